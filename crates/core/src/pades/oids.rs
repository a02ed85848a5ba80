//! Object identifiers of the CMS structures and attributes that a PAdES seal uses.

use der::asn1::ObjectIdentifier;

/// `id-data` (RFC 5652 section 4): the type of the detached content, here the PDF byte ranges.
pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");

/// `id-signedData` (RFC 5652 section 5.1).
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");

/// `id-contentType` (RFC 5652 section 11.1).
pub const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");

/// `id-messageDigest` (RFC 5652 section 11.2).
pub const ID_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");

/// `id-aa-signingCertificateV2` (RFC 5035 section 3).
pub const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// `id-ct-TSTInfo` (RFC 3161 section 2.4.2): the content type inside a time-stamp token.
pub const ID_CT_TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// `id-aa-signatureTimeStampToken` (RFC 3161 appendix A): the unsigned attribute that holds a
/// time-stamp token over the SignerInfo signature value, which makes a seal PAdES B-T.
pub const ID_AA_SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
