"""Sample requests shared by the tests: valid unless a test changes them."""

import copy
import hashlib
from typing import Any


def pdf(label: str) -> bytes:
    """A small, distinct file that is a PDF by its signature (what the gateway checks)."""
    return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n% " + label.encode() + b"\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


FILES: dict[str, bytes] = {}  # every sample file by its SHA-256, for `upload_documents`


def document(component_code: str, label: str | None = None, **changes: Any) -> dict[str, Any]:
    """A declared document whose file (a distinct sample PDF) `upload_documents` can send."""
    content = pdf(label or component_code)
    FILES[sha256(content)] = content
    declared = {
        "component_code": component_code,
        "name": label or component_code,
        "sha256": sha256(content),
        "size": len(content),
        "media_type": "application/pdf",
    }
    return declared | changes


TO_KHAI = pdf("to khai")
SHA = sha256(TO_KHAI)
FILES[SHA] = TO_KHAI

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
        {
            "component_code": "TK_LLTP",
            "name": "Tờ khai",
            "sha256": SHA,
            "size": len(TO_KHAI),
            "media_type": "application/pdf",
        }
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


async def upload_documents(client: Any, org: Any, receipt: dict[str, Any]) -> None:
    """The submitter sends the files its dossier declared (sample files only), as a post office does after the
    intake; the dossier is forwarded once its required components are all there."""
    for sha, path in receipt["upload_urls"].items():
        answer = await client.put(path, data=FILES[sha], headers={**org.auth, "Content-Type": "application/pdf"})
        assert answer.status in (200, 201), await answer.text()


async def file_dossier(client: Any, org: Any, body: dict[str, Any], key: str) -> dict[str, Any]:
    """File a dossier and upload its files: the receipt, once the dossier is on its way to the agency."""
    answer = await client.post("/v1/dossiers", json=body, headers={**org.auth, "Idempotency-Key": key})
    assert answer.status == 201, await answer.text()
    receipt = await answer.json()
    await upload_documents(client, org, receipt)
    return receipt
