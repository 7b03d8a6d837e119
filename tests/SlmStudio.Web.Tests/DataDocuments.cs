using UglyToad.PdfPig.Core;
using UglyToad.PdfPig.Fonts.Standard14Fonts;
using UglyToad.PdfPig.Writer;

namespace SlmStudio.Web.Tests;

/// <summary>Real documents made by the tests: a Word file with the OpenXML SDK, a PDF with a text layer with PdfPig.</summary>
public static class DataDocuments
{
    public static byte[] Docx(string heading, params string[] paragraphs) => TestSupport.WordDocuments.Docx(heading, paragraphs);

    /// <summary>A well-formed zip with the parts of a Word document whose XML is cut off half-way.</summary>
    public static byte[] DocxWithBrokenXml()
    {
        var stream = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(stream, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var w = new StreamWriter(zip.CreateEntry("[Content_Types].xml").Open()))
                w.Write("<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>");
            using (var w = new StreamWriter(zip.CreateEntry("word/document.xml").Open()))
                w.Write("<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>Half a sent");
        }
        return stream.ToArray();
    }

    public static byte[] Pdf(params string[] lines)
    {
        var builder = new PdfDocumentBuilder();
        var font = builder.AddStandard14Font(Standard14Font.Helvetica);
        var page = builder.AddPage(UglyToad.PdfPig.Content.PageSize.A4);
        double y = 780;
        foreach (var line in lines)
        {
            page.AddText(line, 11, new PdfPoint(50, y), font);
            y -= 28;
        }
        return builder.Build();
    }

    /// <summary>A PDF of many pages, 50 lines a page.</summary>
    public static byte[] PdfPages(IReadOnlyList<string> lines)
    {
        var builder = new PdfDocumentBuilder();
        var font = builder.AddStandard14Font(Standard14Font.Helvetica);
        foreach (var pageLines in lines.Chunk(50))
        {
            var page = builder.AddPage(UglyToad.PdfPig.Content.PageSize.A4);
            double y = 800;
            foreach (var line in pageLines) { page.AddText(line, 8, new PdfPoint(30, y), font); y -= 15; }
        }
        return builder.Build();
    }

    /// <summary>Sentences that differ enough from each other not to count as near duplicates.</summary>
    public static string Prose(string topic, int sentences) => string.Join(" ", Enumerable.Range(0, sentences).Select(i =>
        $"Note {i} about {topic}: the team checked item {i * 7 + 3} on day {i % 28 + 1} and wrote {(i * 13) % 97} remarks for shelf {(char)('A' + i % 26)}{i}."));
}
