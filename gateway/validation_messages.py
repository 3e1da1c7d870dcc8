"""Pydantic validation errors as per-field problems with Vietnamese messages and stable types."""

from typing import Any

from pydantic import ValidationError

# Pydantic error types we expect from our models, in Vietnamese. Our own validators raise
# PydanticCustomError with a Vietnamese message already, and their type is kept as given.
_MESSAGES: dict[str, str] = {
    "missing": "Trường này là bắt buộc.",
    "extra_forbidden": "Trường này không được phép.",
    "string_type": "Giá trị phải là chuỗi ký tự.",
    "string_too_short": "Giá trị quá ngắn.",
    "string_too_long": "Giá trị quá dài.",
    "string_pattern_mismatch": "Giá trị không đúng định dạng.",
    "int_type": "Giá trị phải là số nguyên.",
    "int_parsing": "Giá trị phải là số nguyên.",
    "int_from_float": "Giá trị phải là số nguyên.",
    "bool_type": "Giá trị phải là true hoặc false.",
    "bool_parsing": "Giá trị phải là true hoặc false.",
    "greater_than_equal": "Giá trị nhỏ hơn mức cho phép.",
    "less_than_equal": "Giá trị lớn hơn mức cho phép.",
    "greater_than": "Giá trị nhỏ hơn mức cho phép.",
    "less_than": "Giá trị lớn hơn mức cho phép.",
    "literal_error": "Giá trị không thuộc danh sách cho phép.",
    "date_type": "Ngày phải có dạng YYYY-MM-DD.",
    "date_parsing": "Ngày phải có dạng YYYY-MM-DD.",
    "date_from_datetime_parsing": "Ngày phải có dạng YYYY-MM-DD.",
    "datetime_type": "Thời điểm phải theo ISO 8601.",
    "datetime_parsing": "Thời điểm phải theo ISO 8601.",
    "datetime_from_date_parsing": "Thời điểm phải theo ISO 8601.",
    "timezone_aware": "Thời điểm phải có múi giờ.",
    "list_type": "Giá trị phải là danh sách.",
    "too_short": "Danh sách có quá ít phần tử.",
    "too_long": "Danh sách có quá nhiều phần tử.",
    "model_type": "Giá trị phải là một đối tượng JSON.",
    "model_attributes_type": "Giá trị phải là một đối tượng JSON.",
    "dict_type": "Giá trị phải là một đối tượng JSON.",
    "union_tag_invalid": "Giá trị của trường 'type' không thuộc danh sách cho phép.",
    "union_tag_not_found": "Thiếu trường 'type'.",
    "json_invalid": "JSON không hợp lệ.",
}
_FALLBACK = "Giá trị không hợp lệ."


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"])
        kind = error["type"]
        message = _MESSAGES.get(kind) or (error["msg"] if "." in kind else _FALLBACK)
        if kind == "literal_error" and "expected" in error.get("ctx", {}):
            message = f"{message} Cho phép: {error['ctx']['expected']}."
        errors.append({"field": location or "(body)", "type": kind, "message": message})
    return errors
