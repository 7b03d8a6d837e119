using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Wordprocessing;
using SlmStudio.Core.Data;
using SlmStudio.Core.Retrieval;

namespace SlmStudio.Core.Tests.Data;

/// <summary>
/// The extractor returns clean prose (issue 12) and keeps what the document said about its structure as data
/// (<see cref="TextStructure"/>), which search needs for heading paths and table rows (issue 11).
/// </summary>
public sealed class DocumentStructureTests
{
    private static ExtractedDocument Extract(string path, string name) =>
        DocumentExtractor.Extract(path, name, null, DataLimits.Default, CancellationToken.None);

    [Fact]
    public void MarkdownRecordsSayWhatTheyAreWithoutMarkupInTheirText()
    {
        const string markdown = """
            # Handbook

            ## Leave

            Holidays are **25 days**.

            | Leave type | Days |
            |---|---|
            | Parental | 20 |
            | Study | 3 |

            * First item
            * Second item

            ```
            run --now
            ```
            """;
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("h.md", markdown), "h.md");
        Assert.Equal(
        [
            TextStructure.Heading(1),
            TextStructure.Heading(2),
            TextStructure.Paragraph,
            TextStructure.Table(["Leave type", "Days"], [2, 3]),
            TextStructure.List,
            TextStructure.Code,
        ], doc.Records.Select(r => r.Structure));
        Assert.Equal("Leave type: Parental; Days: 20\nLeave type: Study; Days: 3", doc.Records[3].Text);
        Assert.DoesNotContain(doc.Records, r => r.Text.Contains('#') || r.Text.Contains('|') || r.Text.Contains("**"));
    }

    [Fact]
    public void HtmlHeadingLevelsListsAndTablesAreKept()
    {
        const string html = """
            <html><body><h1>Guide</h1><section><h3>Details</h3><p>Some text.</p>
            <ul><li>One</li><li><p>Two</p></li></ul>
            <table><tr><td>Mon</td><td>9-17</td></tr><tr><td></td><td></td></tr><tr><td>Sat</td><td>closed</td></tr></table></section></body></html>
            """;
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("g.html", html), "g.html");
        Assert.Equal(["Guide", "Details", "Some text.", "One", "Two", "Mon; 9-17\nSat; closed"], doc.Records.Select(r => r.Text));
        Assert.Equal(
        [
            TextStructure.Heading(1),
            TextStructure.Heading(3),
            TextStructure.Paragraph,
            TextStructure.List,
            TextStructure.List,
            // No header row; the empty second row is left out of the text but still counted.
            TextStructure.Table(null, [1, 3]),
        ], doc.Records.Select(r => r.Structure));
    }

    /// <summary>
    /// A Word document as German Word writes it: style ids are translated ("berschrift1"), the style names of the
    /// built-in heading styles are not. Also a custom style based on a heading style, a paragraph with a direct outline
    /// level, a bulleted paragraph and a table.
    /// </summary>
    private static byte[] GermanWordDocument()
    {
        var stream = new MemoryStream();
        using (var doc = WordprocessingDocument.Create(stream, WordprocessingDocumentType.Document))
        {
            var main = doc.AddMainDocumentPart();
            var styles = main.AddNewPart<StyleDefinitionsPart>();
            styles.Styles = new Styles(
                new Style(new StyleName { Val = "Title" }) { Type = StyleValues.Paragraph, StyleId = "Titel" },
                new Style(new StyleName { Val = "heading 1" }) { Type = StyleValues.Paragraph, StyleId = "berschrift1" },
                new Style(new StyleName { Val = "heading 2" }) { Type = StyleValues.Paragraph, StyleId = "berschrift2" },
                new Style(new StyleName { Val = "Meine Überschrift" }, new BasedOn { Val = "berschrift2" }) { Type = StyleValues.Paragraph, StyleId = "MeineUberschrift" },
                new Style(new StyleName { Val = "Standard" }) { Type = StyleValues.Paragraph, StyleId = "Standard" });
            styles.Styles.Save();

            static Paragraph Styled(string style, string text) =>
                new(new ParagraphProperties(new ParagraphStyleId { Val = style }), new Run(new Text(text)));
            var body = new Body(
                Styled("Titel", "Mitarbeiterhandbuch"),
                Styled("berschrift1", "Urlaub"),
                Styled("Standard", "Jeder Mitarbeiter hat 30 Tage Urlaub im Jahr."),
                Styled("berschrift2", "Sonderurlaub"),
                Styled("Standard", "Bei Umzug gibt es einen Tag frei."),
                Styled("MeineUberschrift", "Bildungsurlaub"),
                new Paragraph(new ParagraphProperties(new NumberingProperties(new NumberingLevelReference { Val = 0 }, new NumberingId { Val = 1 })),
                    new Run(new Text("Fünf Tage im Jahr."))),
                new Paragraph(new ParagraphProperties(new OutlineLevel { Val = 0 }), new Run(new Text("Arbeitszeit"))),
                Styled("Standard", "Die Kernzeit ist von 10 bis 15 Uhr."),
                new Table(
                    new TableRow(new TableCell(new Paragraph(new Run(new Text("Tag")))), new TableCell(new Paragraph(new Run(new Text("Beginn"))))),
                    new TableRow(new TableCell(new Paragraph(new Run(new Text("Montag")))), new TableCell(new Paragraph(new Run(new Text("8 Uhr")))))));
            main.Document = new Document(body);
            main.Document.Save();
        }
        return stream.ToArray();
    }

    [Fact]
    public void WordHeadingStylesGiveHeadingLevelsAndSearchUsesThem()
    {
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("h.docx", GermanWordDocument()), "handbuch.docx");
        Assert.True(doc.IsUsable, string.Join("; ", doc.Problems.Select(p => p.Message)));
        Assert.Equal(
        [
            TextStructure.Heading(0),
            TextStructure.Heading(1),
            TextStructure.Paragraph,
            TextStructure.Heading(2),
            TextStructure.Paragraph,
            TextStructure.Heading(2),
            TextStructure.List,
            TextStructure.Heading(1),
            TextStructure.Paragraph,
            TextStructure.Table(["Tag", "Beginn"], [2]),
        ], doc.Records.Select(r => r.Structure));

        var passages = PassageSplitter.Split(doc);
        Assert.Equal("Mitarbeiterhandbuch › Urlaub", Assert.Single(passages, p => p.Text.Contains("30 Tage")).Heading);
        Assert.Equal("Mitarbeiterhandbuch › Urlaub › Sonderurlaub", Assert.Single(passages, p => p.Text.Contains("Umzug")).Heading);
        Assert.Equal("Mitarbeiterhandbuch › Urlaub › Bildungsurlaub", Assert.Single(passages, p => p.Text.Contains("Fünf Tage")).Heading);
        Assert.Equal("Mitarbeiterhandbuch › Arbeitszeit", Assert.Single(passages, p => p.Text.Contains("Kernzeit")).Heading);
        var row = Assert.Single(passages, p => p.Row is not null);
        Assert.Equal(("Tag: Montag; Beginn: 8 Uhr", 2, "Mitarbeiterhandbuch › Arbeitszeit"), (row.Text, row.Row!.Value, row.Heading));
    }

    [Fact]
    public async Task TheIsolatedReaderReturnsTheSameStructure()
    {
        // The portal reads uploads in a child process that hands the records back as JSON: the structure must survive it.
        using var dir = new TempFolder();
        var isolated = IsolatedExtractor.ForCurrentInstall();
        foreach (var (name, path) in new[]
        {
            ("handbook.md", dir.Write("handbook.md", Retrieval.HandbookCorpus.Markdown)),
            ("it-security.html", dir.Write("it-security.html", Retrieval.HandbookCorpus.Html)),
            ("handbuch.docx", dir.Write("handbuch.docx", GermanWordDocument())),
        })
        {
            var inProcess = Extract(path, name);
            var child = await isolated.ExtractAsync(path, name, null, DataLimits.Default, CancellationToken.None);
            Assert.Contains(inProcess.Records, r => r.Structure is { Kind: RecordKind.Table });
            Assert.Equal(inProcess.Records, child.Records);
            Assert.Equal(PassageSplitter.Split(inProcess), PassageSplitter.Split(child));
        }
    }
}
