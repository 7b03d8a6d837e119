using System.IO.Compression;

namespace SlmStudio.Core.Data;

/// <summary>
/// Checks a stored upload before any parser sees it: size limits, the extension allowlist, what the content really is
/// (magic bytes, not the name), and for DOCX (a zip) how far it would expand, by counting inflated bytes with a cap
/// rather than trusting the sizes the zip declares.
/// </summary>
public static class FileInspector
{
    public static readonly IReadOnlySet<string> AllowedExtensions = new HashSet<string>(StringComparer.Ordinal)
    {
        ".txt", ".text", ".md", ".markdown", ".pdf", ".docx", ".csv", ".tsv", ".jsonl", ".ndjson", ".html", ".htm",
    };

    public const string SupportedList = "TXT, MD, PDF, DOCX, CSV, JSONL or HTML";

    public static DocumentKind KindFromExtension(string extension) => extension switch
    {
        ".txt" or ".text" => DocumentKind.Text,
        ".md" or ".markdown" => DocumentKind.Markdown,
        ".pdf" => DocumentKind.Pdf,
        ".docx" => DocumentKind.Docx,
        ".csv" or ".tsv" => DocumentKind.Csv,
        ".jsonl" or ".ndjson" => DocumentKind.Jsonl,
        ".html" or ".htm" => DocumentKind.Html,
        _ => DocumentKind.Unknown,
    };

    /// <summary>What the first bytes of a file say it is.</summary>
    public enum Content { Text, Pdf, Zip, Docx, OldOffice, Executable, Image, Archive, OtherBinary }

    public static FileCheck Inspect(string storedPath, string originalName, DataLimits limits)
    {
        var display = SafeFileName.ForDisplay(originalName);
        var ext = SafeFileName.Extension(originalName);
        var expected = KindFromExtension(ext);
        FileCheck Reject(string message, string fix, long size = 0) =>
            new(originalName, DocumentKind.Unknown, size, [new DataProblem(display, null, ProblemSeverity.Error, message, fix)]);

        var info = new FileInfo(storedPath);
        if (!info.Exists)
            return Reject("The uploaded file could not be found on the server any more.", "Upload it again.");
        var size = info.Length;
        if (size == 0)
            return Reject("The file is empty (0 bytes).", "Check that you picked the right file and that it was saved before uploading.");
        if (size > limits.MaxFileBytes)
            return Reject($"The file is {Megabytes(size)} MB, more than the limit of {Megabytes(limits.MaxFileBytes)} MB.",
                "Split it into smaller files, or ask your administrator to raise the upload limit.", size);

        byte[] head;
        using (var stream = File.OpenRead(storedPath))
        {
            head = new byte[(int)Math.Min(8192, size)];
            stream.ReadExactly(head);
        }
        var content = Sniff(head);

        if (content == Content.Executable)
            return Reject($"This file is named '{ext}' but it is actually a program (an executable), not a document. It was not opened.",
                "Upload the real document. If you did not expect this, do not run the file and tell your IT team.", size);
        if (expected == DocumentKind.Unknown)
            return Reject(ext.Length == 0
                    ? $"The file has no extension, so its type is unknown. Supported types are {SupportedList}."
                    : $"Files of type '{ext}' are not supported. Supported types are {SupportedList}.",
                "Save or export the document in one of the supported formats and upload that.", size);

        switch (expected)
        {
            case DocumentKind.Pdf when content != Content.Pdf:
                return Reject($"This file is named .pdf but it is not a PDF ({Describe(content)}).",
                    "Open it in the program that made it and export it as PDF again, then upload that.", size);
            case DocumentKind.Docx when content == Content.OldOffice:
                return Reject("This is an old-style Office file (Word 97-2003 .doc or similar) or a password-protected Word document, not a plain .docx.",
                    "Open it in Word, remove the password if it has one, and use 'Save as' → Word Document (.docx), then upload that.", size);
            case DocumentKind.Docx when content is not (Content.Zip or Content.Docx):
                return Reject($"This file is named .docx but it is not a Word document ({Describe(content)}).",
                    "Open it in Word and save it as a Word Document (.docx), then upload that.", size);
            case DocumentKind.Text or DocumentKind.Markdown or DocumentKind.Csv or DocumentKind.Jsonl or DocumentKind.Html
                when content != Content.Text:
                return Reject($"This file is named '{ext}' but it does not contain text ({Describe(content)}).",
                    "Upload the original text file, or export the document as plain text.", size);
        }

        if (expected == DocumentKind.Docx)
        {
            var zipProblem = CheckZip(storedPath, display, limits);
            if (zipProblem is not null) return new FileCheck(originalName, DocumentKind.Unknown, size, [zipProblem]);
        }
        return new FileCheck(originalName, expected, size, []);
    }

    public static Content Sniff(ReadOnlySpan<byte> head)
    {
        static bool StartsWith(ReadOnlySpan<byte> s, params byte[] magic) => s.Length >= magic.Length && s[..magic.Length].SequenceEqual(magic);

        // PDF readers accept the header anywhere in the first kilobyte; so do we.
        var pdfAt = head[..Math.Min(head.Length, 1024)].IndexOf("%PDF-"u8);
        if (pdfAt >= 0) return Content.Pdf;
        if (StartsWith(head, 0x50, 0x4B, 0x03, 0x04) || StartsWith(head, 0x50, 0x4B, 0x05, 0x06))
            return head.IndexOf("word/"u8) >= 0 || head.IndexOf("[Content_Types].xml"u8) >= 0 ? Content.Docx : Content.Zip;
        if (StartsWith(head, (byte)'M', (byte)'Z') || StartsWith(head, 0x7F, (byte)'E', (byte)'L', (byte)'F')
            || StartsWith(head, 0xFE, 0xED, 0xFA, 0xCE) || StartsWith(head, 0xFE, 0xED, 0xFA, 0xCF)
            || StartsWith(head, 0xCE, 0xFA, 0xED, 0xFE) || StartsWith(head, 0xCF, 0xFA, 0xED, 0xFE)
            || StartsWith(head, 0xCA, 0xFE, 0xBA, 0xBE))
            return Content.Executable;
        if (StartsWith(head, 0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1)) return Content.OldOffice;
        if (StartsWith(head, 0x89, (byte)'P', (byte)'N', (byte)'G') || StartsWith(head, 0xFF, 0xD8, 0xFF)
            || StartsWith(head, (byte)'G', (byte)'I', (byte)'F', (byte)'8') || StartsWith(head, (byte)'I', (byte)'I', 0x2A, 0x00)
            || StartsWith(head, (byte)'M', (byte)'M', 0x00, 0x2A))
            return Content.Image;
        if (StartsWith(head, 0x1F, 0x8B) || StartsWith(head, (byte)'R', (byte)'a', (byte)'r', (byte)'!')
            || StartsWith(head, (byte)'7', (byte)'z', 0xBC, 0xAF))
            return Content.Archive;
        return TextDecoding.LooksLikeText(head) ? Content.Text : Content.OtherBinary;
    }

    private static string Describe(Content c) => c switch
    {
        Content.Text => "it contains plain text",
        Content.Pdf => "it is a PDF",
        Content.Zip => "it is a zip archive",
        Content.Docx => "it is an Office document",
        Content.OldOffice => "it is an old-style Office file",
        Content.Executable => "it is a program",
        Content.Image => "it is a picture",
        Content.Archive => "it is a compressed archive",
        _ => "it contains binary data of an unknown kind",
    };

    /// <summary>
    /// Rejects a zip that is damaged, has too many entries, or expands past the limit. Entries are inflated into a
    /// counting sink that stops at the limit, so a zip whose headers lie about sizes is caught too, and nothing large
    /// is ever held in memory.
    /// </summary>
    private static DataProblem? CheckZip(string path, string display, DataLimits limits)
    {
        DataProblem Problem(string message, string fix) => new(display, null, ProblemSeverity.Error, message, fix);
        try
        {
            using var zip = ZipFile.OpenRead(path);
            if (zip.Entries.Count > limits.MaxZipEntries)
                return Problem($"This Word document holds {zip.Entries.Count} internal parts, more than the {limits.MaxZipEntries} allowed; it is unusually built and was not opened.",
                    "Open it in Word, save it as a new .docx and upload that.");
            if (zip.GetEntry("word/document.xml") is null)
                return Problem("This file is a zip archive but not a Word document (it has no word/document.xml).",
                    "If it is an Excel or PowerPoint file, export its text; otherwise save it from Word as .docx.");
            long declared = zip.Entries.Sum(e => e.Length);
            if (declared > limits.MaxUncompressedBytes)
                return InflatesProblem();

            long total = 0;
            var buffer = new byte[81920];
            foreach (var entry in zip.Entries)
            {
                using var s = entry.Open();
                int n;
                while ((n = s.Read(buffer, 0, buffer.Length)) > 0)
                {
                    total += n;
                    if (total > limits.MaxUncompressedBytes) return InflatesProblem();
                }
            }
            return null;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException)
        {
            return Problem("This Word document is damaged or incomplete (the file may have been cut off while copying or uploading).",
                "Open it in Word; if it opens, save it as a new .docx and upload that. Otherwise get a fresh copy from its author.");
        }

        DataProblem InflatesProblem() => Problem(
            $"This Word document would expand to more than {Megabytes(limits.MaxUncompressedBytes)} MB when opened, which is far more than a normal document; it was not opened.",
            "If it really holds that much text, split it into several documents. If you did not expect this, do not open it and tell your IT team.");
    }

    internal static string Megabytes(long bytes) => (bytes / (1024.0 * 1024.0)).ToString(bytes < 10 * 1024 * 1024 ? "0.#" : "0", System.Globalization.CultureInfo.InvariantCulture);
}
