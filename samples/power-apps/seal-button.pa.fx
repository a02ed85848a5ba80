// The OnSelect formula of a "Seal" button in a canvas app, and the controls it reads.
// Data source: the custom connector "PDF Seal", added under Data > Add data; Power Apps names it
// PDFSeal (the title without its space).
//
// Controls on the screen:
// - attPdf: an Attachments control (copied from a form, as canvas apps have no stand-alone file
//   picker); the user adds one PDF to it. MaxAttachments = 1.
// - txtReason: a Text input; its text becomes the seal's reason (leave it empty for none).
// - btnSeal: the button; this formula is its OnSelect.
// - pdfSealed: a PDF viewer whose Document property is varSealedPdf, to show the sealed file.
// - lblStatus: a Label whose Text property is varSealStatus.
//
// SealPdf takes the PDF as its first argument and the optional settings as a record.
// Power Apps waits for the answer, so this suits small files (seconds, not minutes); large files
// go through a flow with "Seal a PDF in Blob Storage".
// The separators are those of English (en-US) authoring: ',' between arguments, ';' between
// formulas.

If(
    IsEmpty(attPdf.Attachments),
    Set(varSealStatus, "Add a PDF first."),
    Set(varSealStatus, "Sealing...");
    IfError(
        Set(
            varSealedPdf,
            PDFSeal.SealPdf(
                First(attPdf.Attachments).Value,
                {
                    reason: txtReason.Text,
                    location: "Sampletown",
                    digest: "sha256"
                }
            )
        );
        Set(varSealStatus, "Sealed: " & First(attPdf.Attachments).Name),
        Set(varSealStatus, "Sealing failed: " & FirstError.Message)
    )
)
