using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Wordprocessing;

namespace SlmStudio.TestSupport;

/// <summary>Real Word documents made with the OpenXML SDK, shared by the engine, portal and browser tests (linked into each).</summary>
public static class WordDocuments
{
    /// <summary>A heading, paragraphs and, optionally, a table.</summary>
    public static byte[] Docx(string heading, IEnumerable<string> paragraphs, string[][]? table = null)
    {
        var stream = new MemoryStream();
        using (var doc = WordprocessingDocument.Create(stream, WordprocessingDocumentType.Document))
        {
            var main = doc.AddMainDocumentPart();
            var body = new Body();
            body.Append(new Paragraph(new ParagraphProperties(new ParagraphStyleId { Val = "Heading1" }), new Run(new Text(heading))));
            foreach (var p in paragraphs) body.Append(new Paragraph(new Run(new Text(p) { Space = SpaceProcessingModeValues.Preserve })));
            if (table is not null)
                body.Append(new Table(table.Select(row => new TableRow(row.Select(cell => new TableCell(new Paragraph(new Run(new Text(cell))))))).ToArray<OpenXmlElement>()));
            main.Document = new Document(body);
            main.Document.Save();
        }
        return stream.ToArray();
    }
}
