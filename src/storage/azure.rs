//! Azure Blob Storage and Azure Storage Queue, through the official SDK.
