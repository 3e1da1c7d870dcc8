"""XML signatures on SOAP envelopes, both directions.

Layout (the same for requests and answers): one enveloped `ds:Signature` (RSA-SHA256, SHA-256 digest,
exclusive C14N) as a direct child of `soap:Header`, with a single Reference `URI=""`: it covers the
whole envelope (Header and Body) minus the signature itself. The signer's certificate travels in
`ds:KeyInfo/ds:X509Data`, but it is never what we trust: verification only accepts signatures that
one of the pinned certificates checks, and it hands back what signxml says was signed — the payload is
read from that, never from the received tree ("see what is signed").
"""

from collections.abc import Iterable, Sequence
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from lxml import etree
from signxml import SignatureConfiguration, XMLSigner, XMLVerifier
from signxml.algorithms import CanonicalizationMethod, SignatureConstructionMethod
from signxml.exceptions import InvalidInput, SignXMLException

from identity.errors import BadSignature, MalformedAnswer, UnsignedAnswer

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
DS = "http://www.w3.org/2000/09/xmldsig#"
_NS = {"soap": SOAP_ENV, "ds": DS}
_EXC_C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0


def xml_parser() -> etree.XMLParser:
    """A parser for untrusted XML: no entities, no network, no DTD, no huge trees."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_envelope(data: bytes) -> etree._Element:
    """The SOAP envelope in `data`, or MalformedAnswer."""
    try:
        root = etree.fromstring(data, parser=xml_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise MalformedAnswer(f"not XML: {exc}") from exc
    return _check_envelope(root)


def _check_envelope(root: etree._Element) -> etree._Element:
    if root.tag != f"{{{SOAP_ENV}}}Envelope" or root.find("soap:Body", _NS) is None:
        raise MalformedAnswer("not a SOAP 1.1 envelope with a Body")
    return root


def load_private_key(path: Path) -> PrivateKeyTypes:
    return load_pem_private_key(path.read_bytes(), password=None)


def load_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


class EnvelopeSigner:
    """Signs outgoing envelopes with one private key and its certificate."""

    def __init__(self, key: PrivateKeyTypes, certificate: x509.Certificate) -> None:
        self._key = key
        self._certificate = certificate

    @classmethod
    def from_files(cls, key_file: Path, cert_file: Path) -> "EnvelopeSigner":
        return cls(load_private_key(key_file), load_certificate(cert_file))

    def sign(self, envelope: etree._Element) -> etree._Element:
        """A signed copy of `envelope` (the signature goes into soap:Header, created if absent)."""
        root = deepcopy(envelope)
        header = root.find("soap:Header", _NS)
        if header is None:
            header = etree.Element(f"{{{SOAP_ENV}}}Header")
            root.insert(0, header)
        for old in header.findall("ds:Signature", _NS):
            header.remove(old)
        etree.SubElement(header, f"{{{DS}}}Signature", Id="placeholder", nsmap={"ds": DS})
        signer = XMLSigner(method=SignatureConstructionMethod.enveloped, c14n_algorithm=_EXC_C14N)
        return signer.sign(root, key=self._key, cert=[self._certificate])

    def sign_bytes(self, envelope: etree._Element) -> bytes:
        return etree.tostring(self.sign(envelope), xml_declaration=True, encoding="utf-8")


@dataclass(frozen=True, slots=True)
class VerifiedEnvelope:
    """What the signature covers (the whole envelope without the signature) and who signed it."""

    envelope: etree._Element  # parsed from the signed bytes, not from the received tree
    signed_bytes: bytes  # canonical form of what was signed
    certificate: x509.Certificate  # the pinned certificate that verified it


class EnvelopeVerifier:
    """Verifies incoming envelopes against pinned certificates (several at once, for rotation)."""

    def __init__(self, trusted: Iterable[x509.Certificate]) -> None:
        self._trusted: Sequence[x509.Certificate] = tuple(trusted)
        if not self._trusted:
            raise ValueError("at least one pinned certificate is needed")

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> "EnvelopeVerifier":
        return cls(load_certificate(path) for path in paths)

    def verify(self, data: bytes | etree._Element) -> VerifiedEnvelope:
        """The verified envelope; UnsignedAnswer without a signature, BadSignature for anything else wrong
        with it (invalid, tampered, not in soap:Header, not covering the whole envelope, unknown signer);
        MalformedAnswer when `data` is not a SOAP envelope."""
        root = parse_envelope(data) if isinstance(data, bytes) else _check_envelope(data)
        signatures = root.findall(".//ds:Signature", _NS)
        if not signatures:
            raise UnsignedAnswer("no XML signature")
        if len(signatures) > 1:
            raise BadSignature("more than one XML signature")
        if signatures[0].getparent() is not root.find("soap:Header", _NS):
            raise BadSignature("the XML signature is not in soap:Header")
        references = signatures[0].findall("ds:SignedInfo/ds:Reference", _NS)
        if len(references) != 1 or references[0].get("URI") != "":
            raise BadSignature('the XML signature must have one Reference with URI="" (the whole envelope)')
        config = SignatureConfiguration(location=f"./{{{SOAP_ENV}}}Header/", expect_references=1)
        failures = []
        for certificate in self._trusted:
            try:
                result = XMLVerifier().verify(root, x509_cert=certificate, expect_config=config)
            except (SignXMLException, InvalidInput, etree.LxmlError, ValueError) as exc:
                failures.append(str(exc))
                continue
            signed = result.signed_xml
            if signed is None or signed.tag != root.tag or signed.find("soap:Body", _NS) is None:
                raise BadSignature("the signature does not cover the SOAP envelope and its Body")
            return VerifiedEnvelope(signed, result.signed_data, certificate)
        raise BadSignature("no pinned certificate verifies the signature: " + "; ".join(failures))
