//! A signer whose key is held in this process: PKCS#12, or a PEM key with its certificate chain.
