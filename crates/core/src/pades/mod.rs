//! PAdES baseline CMS: SignedData with the signed attributes of ETSI EN 319 142-1.
