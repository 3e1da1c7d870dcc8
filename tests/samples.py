"""Sample requests shared by the tests: valid unless a test changes them."""

import copy
import hashlib
from typing import Any

SHA = hashlib.sha256(b"to khai").hexdigest()

POSTAL_DOSSIER: dict[str, Any] = {
    "procedure_code": "2.000488",
    "applicant": {
        "id_number": "001090123456",
        "full_name": "Nguyễn Văn An",
        "date_of_birth": "1990-05-14",
        "phone": "0912345678",
        "residence": {"unit_code": "00004", "address_line": "12 phố Đội Cấn"},
    },
    "channel": {"type": "postal", "post_office_code": "100000", "item_number": "EE123456785VN"},
    "documents": [
        {"component_code": "TK_LLTP", "name": "Tờ khai", "sha256": SHA, "size": 2048, "media_type": "application/pdf"}
    ],
    "return_method": {"type": "counter"},
    "fees": [{"kind": "fee", "name": "Phí lý lịch tư pháp", "amount": 200000, "receipt_number": "BL-1"}],
}


def postal_dossier(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(POSTAL_DOSSIER)
    body.update(changes)
    return body


def counter_dossier(**changes: Any) -> dict[str, Any]:
    return postal_dossier(channel={"type": "counter", "unit_code": "20194"}, **changes)
