//! Development certificates: a throw-away root CA and a seal certificate it issued.
