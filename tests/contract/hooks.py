"""Schemathesis hooks of the contract test (tests/contract.rs), loaded through SCHEMATHESIS_HOOKS.

Random inputs reach only the service's refusals: random bytes are no PDF, random blob names name
no blob, random job ids name no job. So that the success answers are held to the definition too,
these hooks mix real inputs into what schemathesis generates, from the files and ids that the
test prepared and names in environment variables:

- CONTRACT_PDFS: paths of real PDFs, separated by the platform's path separator; a binary body of
  SealPdf becomes one of them (and so does `fileContent` of its JSON body, as base64);
- CONTRACT_SOURCE: `container/blob` of a PDF blob in the service's storage; the `source` of a
  SealBlobPdf body becomes it;
- CONTRACT_JOB_IDS: ids of existing jobs, separated by commas; the `id` of GetSealJob becomes one.

SealPdf of the OpenAPI document is also asked, now and then, for its JSON answer.

Each substitute is one choice among those schemathesis draws, beside its own value, so that the
refusals stay covered. The hooks also write, for every answer, `operationId status media-type`
to the file CONTRACT_ANSWERS, from which the test counts what each operation answered.
"""

import base64
import os
import re

import schemathesis
from hypothesis import strategies as st


def _list(variable, separator):
    return [item for item in os.environ.get(variable, "").split(separator) if item]


def _read(path):
    with open(path, "rb") as file:
        return file.read()


PDFS = [_read(path) for path in _list("CONTRACT_PDFS", os.pathsep)]
SOURCE = os.environ.get("CONTRACT_SOURCE", "")
JOB_IDS = _list("CONTRACT_JOB_IDS", ",")
ANSWERS = os.environ.get("CONTRACT_ANSWERS")


def _operation_id(context):
    operation = context.operation
    return operation.definition.raw.get("operationId") if operation is not None else None


def _with_choices(original, alternatives):
    """One of the alternatives or the original value. The alternatives come first: Hypothesis
    draws the first branch of `one_of` most often, and the success answers are the ones that
    random data never reaches."""
    if not alternatives:
        return st.just(original)
    return st.one_of(st.sampled_from(alternatives), st.just(original))


def _is_valid_source(source):
    """True when `source` follows the definition's rules for a blob: names of the right
    lengths, and a container of lowercase letters, digits and single hyphens."""
    if not isinstance(source, dict):
        return False
    container, blob = source.get("container"), source.get("blob")
    return (
        isinstance(container, str)
        and isinstance(blob, str)
        and 3 <= len(container) <= 63
        and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", container) is not None
        and 1 <= len(blob) <= 1024
    )


# Schemathesis has no serializer for `application/pdf`: the definitions send PDFs as raw bytes
# (`format: binary`), which is what its own `application/octet-stream` serializer sends.
schemathesis.serializer.alias("application/pdf", "application/octet-stream")


@schemathesis.deserializer("application/pdf")
def pdf_deserializer(context, response):
    """A PDF answer as the string its schema (`type: string`, `format: binary`) describes, once
    it looks like a whole PDF: a header first and an end-of-file marker last, as ISO 32000-2
    section 7.5 puts them. Anything else is reported as a body that does not match."""
    content = response.content
    if not content.startswith(b"%PDF-"):
        raise ValueError(f"the application/pdf answer does not start with %PDF-: {content[:16]!r}")
    if b"%%EOF" not in content[-1024:]:
        raise ValueError("the application/pdf answer has no %%EOF marker at its end")
    return content.decode("latin-1")


@schemathesis.hook
def flatmap_body(context, body):
    operation_id = _operation_id(context)
    if operation_id == "SealPdf":
        if isinstance(body, dict):
            # The JSON body of the OpenAPI document: the PDF as base64 in `fileContent`.
            if "file" in body or not isinstance(body.get("fileContent", ""), (str, type(None))):
                return st.just(body)
            encoded = [base64.b64encode(pdf).decode("ascii") for pdf in PDFS]
            return _with_choices(body, [{**body, "fileContent": text} for text in encoded])
        if isinstance(body, (bytes, str)):
            # What schemathesis draws for `format: binary` is a `str` holding bytes; it sends
            # plain bytes as they are.
            return _with_choices(body, PDFS)
    if operation_id == "SealBlobPdf" and SOURCE and isinstance(body, dict):
        # Only a valid source is replaced, so that a body made invalid on purpose stays so.
        if _is_valid_source(body.get("source")):
            container, blob = SOURCE.split("/", 1)
            return _with_choices(body, [{**body, "source": {"container": container, "blob": blob}}])
    return st.just(body)


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    if (
        _operation_id(context) == "GetSealJob"
        and isinstance(path_parameters, dict)
        and isinstance(path_parameters.get("id"), str)
    ):
        return _with_choices(
            path_parameters, [{**path_parameters, "id": job_id} for job_id in JOB_IDS]
        )
    return st.just(path_parameters)


@schemathesis.hook
def flatmap_headers(context, headers):
    """SealPdf of the OpenAPI document answers the sealed PDF as JSON to a caller that prefers
    it (`Accept: application/json`), an answer that the Swagger file leaves out; schemathesis
    sends no `Accept` of its own."""
    if _operation_id(context) == "SealPdf" and not _is_swagger(context):
        prefers_json = {**(headers or {}), "Accept": "application/json"}
        return st.one_of(st.just(headers), st.just(prefers_json))
    return st.just(headers)


@schemathesis.hook
def after_call(context, case, response):
    if not ANSWERS:
        return
    media_type = response.headers.get("content-type", ["-"])
    media_type = media_type[0] if isinstance(media_type, list) else media_type
    media_type = (media_type or "-").split(";")[0].strip() or "-"
    operation_id = case.operation.definition.raw.get("operationId", case.operation.label)
    with open(ANSWERS, "a", encoding="utf-8") as file:
        file.write(f"{operation_id} {response.status_code} {media_type}\n")


def _is_swagger(context):
    return context.operation is not None and "swagger" in context.operation.schema.raw_schema


def _holds_null(value):
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_holds_null(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_null(item) for item in value)
    return False


@schemathesis.hook
def filter_case(context, case):
    """Drops SealBlobPdf requests that the service refuses (400) by a rule between two fields,
    which no JSON Schema states, so that a body that follows the schema would count as wrongly
    refused: a destination that is the source, and no destination for a source whose name is
    too long to take `.sealed`. A case hook, since the coverage phase applies those and no body
    hooks.

    Also drops, for the Swagger file only, bodies that hold a `null`: Swagger 2.0 has no way to
    say that a field may be null, so the connector's file leaves out the `null` that the
    OpenAPI document allows (src/connector/swagger.rs), and the service, which accepts `null`
    for an optional field as the OpenAPI document says, would count as accepting invalid data.
    The OpenAPI run keeps these cases."""
    body = case.body
    if _is_swagger(context) and _holds_null(body):
        return False
    if _operation_id(context) != "SealBlobPdf" or not isinstance(body, dict):
        return True
    source, destination = body.get("source"), body.get("destination")
    if not isinstance(source, dict):
        return True
    if source == destination:
        return False
    # Without a destination the sealed copy goes beside the source, its name with `.sealed`
    # added, which must still fit the 1024 characters of a blob name.
    blob = source.get("blob")
    return destination is not None or not isinstance(blob, str) or len(blob) <= 1024 - 11
