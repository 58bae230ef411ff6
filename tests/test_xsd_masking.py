"""Schema errors are logged and stored with failed messages: the values libxml2 quotes in them
(names, SNILS, dates, numbers) are masked, the names of what is wrong are kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import SchemaValidationError
from hub.xml import parse_xml
from hub.xml.xsd import masked_schema_error, validate_xsd

pytestmark = pytest.mark.unit

XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t"
  xmlns="urn:t" elementFormDefault="qualified">
  <xs:element name="Person">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="Surname"><xs:simpleType><xs:restriction base="xs:string">
          <xs:maxLength value="5"/></xs:restriction></xs:simpleType></xs:element>
        <xs:element name="Snils"><xs:simpleType><xs:restriction base="xs:string">
          <xs:pattern value="\\d{11}"/></xs:restriction></xs:simpleType></xs:element>
        <xs:element name="Born" type="xs:date"/>
        <xs:element name="Sex"><xs:simpleType><xs:restriction base="xs:string">
          <xs:enumeration value="M"/><xs:enumeration value="F"/></xs:restriction>
        </xs:simpleType></xs:element>
      </xs:sequence>
      <xs:attribute name="Number" type="xs:int"/>
    </xs:complexType>
  </xs:element>
</xs:schema>"""
SECRETS = ("Семёнова-Тян-Шанская", "123-456-789 64", "12.04.2015", "Ж", "45 10 123456")
PERSON = (
    '<Person xmlns="urn:t" Number="{4}"><Surname>{0}</Surname><Snils>{1}</Snils>'
    "<Born>{2}</Born><Sex>{3}</Sex></Person>"
).format(*SECRETS)


def test_values_are_masked_and_what_is_wrong_is_named(tmp_path: Path) -> None:
    schema = tmp_path / "person.xsd"
    schema.write_text(XSD)
    with pytest.raises(SchemaValidationError) as caught:
        validate_xsd(parse_xml(PERSON.encode()), schema)
    stored = str(caught.value) + "\n".join(caught.value.errors)
    assert not [secret for secret in SECRETS if secret in stored]
    for name in ("Surname", "Snils", "Born", "Sex", "Number", "maxLength", "pattern"):
        assert f"'{name}'" in stored or f"}}{name}'" in stored, name
    assert len(caught.value.errors) == 5


@pytest.mark.parametrize(
    ("message", "masked"),
    [
        (
            "Element '{urn:t}Snils': [facet 'pattern'] The value '12345' is not accepted by "
            "the pattern '\\d{11}'.",
            "Element '{urn:t}Snils': [facet 'pattern'] The value '***' is not accepted by "
            "the pattern '\\d{11}'.",
        ),
        (
            "Element '{urn:t}Person', attribute 'Number': '45 10' is not a valid value of "
            "the atomic type 'xs:int'.",
            "Element '{urn:t}Person', attribute 'Number': '***' is not a valid value of "
            "the atomic type 'xs:int'.",
        ),
        ("This element is not expected.", "This element is not expected."),
        (  # the schema's bound helps an operator; the value's own length is not shown
            "Element '{urn:t}Name': [facet 'maxLength'] The value has a length of '300000'; "
            "this exceeds the allowed maximum length of '60'.",
            "Element '{urn:t}Name': [facet 'maxLength'] The value has a length of '***'; "
            "this exceeds the allowed maximum length of '60'.",
        ),
        (
            "Element '{urn:t}Snils': [facet 'length'] The value has a length of '10'; this "
            "differs from the allowed length of '11'.",
            "Element '{urn:t}Snils': [facet 'length'] The value has a length of '***'; this "
            "differs from the allowed length of '11'.",
        ),
    ],
)
def test_masked_schema_error(message: str, masked: str) -> None:
    assert masked_schema_error(message) == masked
