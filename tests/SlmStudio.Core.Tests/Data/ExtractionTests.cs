using System.Text;
using SlmStudio.Core.Data;

namespace SlmStudio.Core.Tests.Data;

public sealed class ExtractionTests
{
    static ExtractionTests() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    private static ExtractedDocument Extract(string path, string name, ColumnMapping? mapping = null, DataLimits? limits = null) =>
        DocumentExtractor.Extract(path, name, mapping, limits ?? DataLimits.Default, CancellationToken.None);

    private static string[] Texts(ExtractedDocument d) => [.. d.Records.Select(r => r.Text)];

    [Theory]
    [InlineData("utf-8-bom")]
    [InlineData("utf-8")]
    [InlineData("utf-16le-bom")]
    [InlineData("utf-16be-bom")]
    [InlineData("utf-16le")]
    [InlineData("windows-1252")]
    public void TextInAnyCommonEncoding(string encoding)
    {
        const string text = "Crème brûlée für Zoë, naïve café.\r\nSecond line of the paragraph.\r\n\r\nA new paragraph — with a dash.";
        byte[] bytes = encoding switch
        {
            "utf-8-bom" => [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(text)],
            "utf-8" => Encoding.UTF8.GetBytes(text),
            "utf-16le-bom" => [.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes(text)],
            "utf-16be-bom" => [.. Encoding.BigEndianUnicode.GetPreamble(), .. Encoding.BigEndianUnicode.GetBytes(text)],
            "utf-16le" => Encoding.Unicode.GetBytes(text),
            _ => Encoding.GetEncoding(1252).GetBytes(text),
        };
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("f", bytes), "menu.txt");
        Assert.True(doc.IsUsable, string.Join("; ", doc.Problems.Select(p => p.Message)));
        Assert.Equal(["Crème brûlée für Zoë, naïve café.\nSecond line of the paragraph.", "A new paragraph — with a dash."], Texts(doc));
        Assert.Equal([1, 4], doc.Records.Select(r => r.Line));
        Assert.Equal(DocumentKind.Text, doc.Kind);
        Assert.Equal(doc.Records.Sum(r => r.Text.Length), doc.Stats.Characters);
        Assert.Equal((doc.Stats.Characters + 3) / 4, doc.Stats.EstimatedTokens);
        Assert.NotNull(doc.SourceSha256);
    }

    [Theory]
    [InlineData(932, "日本語のテキストです。これはシフトJISで書かれた文書です。銀行の口座について説明します。")]
    [InlineData(1251, "Это текст на русском языке в кодировке Windows-1251. Банковский счёт и перевод денег.")]
    public void LegacyCodePagesAreDetected(int codePage, string text)
    {
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("f", Encoding.GetEncoding(codePage).GetBytes(text)), "legacy.txt");
        Assert.Equal([text], Texts(doc));
    }

    [Fact]
    public void MarkdownBecomesPlainProse()
    {
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("m", "# Leave policy\n\nEmployees get **25 days**.\n"), "policy.md");
        Assert.Equal(DocumentKind.Markdown, doc.Kind);
        Assert.Equal(["Leave policy", "Employees get 25 days."], Texts(doc));
    }

    [Fact]
    public void PdfTextLayerIsExtractedPerPage()
    {
        using var dir = new TempFolder();
        var pdf = DataFixtures.Pdf(["Refund policy", "", "Customers may return goods within 30 days."], ["Page two talks about shipping."]);
        var doc = Extract(dir.Write("p", pdf), "policy.pdf");
        Assert.True(doc.IsUsable, string.Join("; ", doc.Problems.Select(p => p.Message)));
        var all = string.Join("\n", Texts(doc));
        Assert.Contains("Refund policy", all);
        Assert.Contains("Customers may return goods within 30 days.", all);
        Assert.Contains("Page two talks about shipping.", all);
        Assert.Equal(2, doc.Records.Last().Line);
        Assert.Contains("Refund policy", doc.Preview(200));
    }

    [Fact]
    public void ScannedPdfSaysSoClearly()
    {
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("s", DataFixtures.ScannedPdf(2)), "scan.pdf");
        Assert.False(doc.IsUsable);
        var p = Assert.Single(doc.Problems);
        Assert.Equal(ProblemSeverity.Error, p.Severity);
        Assert.Contains("only scanned images", p.Message);
        Assert.Contains("OCR", p.Fix);

        var mixed = Extract(dir.Write("m", DataFixtures.ScannedPdf(2, ["This page has real text."])), "mixed.pdf");
        Assert.True(mixed.IsUsable);
        var warning = Assert.Single(mixed.Problems);
        Assert.Equal(ProblemSeverity.Warning, warning.Severity);
        Assert.Contains("Pages 1, 2 are scanned images", warning.Message);
    }

    [Fact]
    public void TruncatedPdfIsReportedAsDamaged()
    {
        using var dir = new TempFolder();
        var pdf = DataFixtures.Pdf(["Some text that will be cut off."]);
        var doc = Extract(dir.Write("t", pdf[..(pdf.Length / 3)]), "cut.pdf");
        Assert.False(doc.IsUsable);
        var p = Assert.Single(doc.Problems);
        Assert.Equal("cut.pdf", p.File);
        Assert.Matches("damaged|could not be read|No text", p.Message);
    }

    [Fact]
    public void DocxParagraphsHeadingsAndTables()
    {
        using var dir = new TempFolder();
        var docx = DataFixtures.Docx("Travel expenses", ["Book trains in second class.", "", "Hotels up to 120 EUR per night."],
            [["City", "Limit"], ["Paris", "150 EUR"], ["Berlin", "110 EUR"]]);
        var doc = Extract(dir.Write("d", docx), "travel.docx");
        Assert.True(doc.IsUsable, string.Join("; ", doc.Problems.Select(p => p.Message)));
        Assert.Equal(["Travel expenses", "Book trains in second class.", "Hotels up to 120 EUR per night.", "City: Paris; Limit: 150 EUR\nCity: Berlin; Limit: 110 EUR"], Texts(doc));
        Assert.Equal(DocumentKind.Docx, doc.Kind);
    }

    [Fact]
    public void HtmlVisibleTextOnly()
    {
        const string html = """
            <!doctype html><html><head><title>Title bar</title><style>p { color: red }</style>
            <script>var apiKey = "secret";</script></head>
            <body><h1>Opening hours</h1><p>We are open <b>Monday</b> to
               Friday.<br>Closed on holidays.</p>
            <div style="display: none">Hidden upsell</div><p hidden>Also hidden</p><span aria-hidden="true">icon</span>
            <noscript>Enable JavaScript</noscript><template><p>tpl</p></template>
            <table><tr><td>Mon</td><td>9-17</td></tr></table></body></html>
            """;
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("h", html), "hours.html");
        Assert.Equal(["Opening hours", "We are open Monday to Friday.\nClosed on holidays.", "Mon; 9-17"], Texts(doc));
        var all = string.Join(" ", Texts(doc));
        foreach (var hidden in new[] { "secret", "Title bar", "color", "Hidden upsell", "Also hidden", "icon", "Enable JavaScript", "tpl" })
            Assert.DoesNotContain(hidden, all);
    }

    [Fact]
    public void CsvWithInconsistentColumnsNamesTheRow()
    {
        var lines = new List<string> { "id,question,answer,category,owner" };
        for (int i = 2; i <= 45; i++)
            lines.Add(i == 41 ? "41,Is it broken,yes" : $"{i},Question number {i} about the product?,Answer {i},billing,ann");
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("c", string.Join("\n", lines)), "prices.csv", ColumnMapping.Text("question"));
        Assert.True(doc.IsUsable);
        var p = Assert.Single(doc.Problems);
        Assert.Equal(new DataProblem("prices.csv", 41, ProblemSeverity.Warning,
            "Row 41 has 3 columns but the header has 5. This row was left out.",
            "Check that row in a spreadsheet program (a missing or extra separator, or a quote that is not closed), or remove it."), p);
        Assert.Equal(43, doc.Records.Count);
        Assert.DoesNotContain(doc.Records, r => r.Line == 41);
        Assert.Equal(2, doc.Records[0].Line);
    }

    [Fact]
    public void CsvWithNoUsableColumn()
    {
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("c", "id;amount;date\n1;12.50;2024-01-03\n2;7;2024-02-04\n"), "numbers.csv");
        Assert.False(doc.IsUsable);
        var p = Assert.Single(doc.Problems);
        Assert.Contains("No column of this file holds text", p.Message);
        Assert.Contains("'id', 'amount', 'date'", p.Message);
    }

    [Theory]
    [InlineData("id,text\n", "column names but no rows")]
    [InlineData("id,text\n1,a,b\n2,c,d\n", "No row of this CSV file matches its header (2 columns)")]
    public void CsvWithoutUsableRows(string csv, string expected)
    {
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("c", csv), "rows.csv");
        Assert.False(doc.IsUsable);
        Assert.Contains(doc.Problems, p => p.Severity == ProblemSeverity.Error && p.Message.Contains(expected));
    }

    [Fact]
    public void CsvMappingToAMissingColumnIsExplained()
    {
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("c", "title,body\nA,Some text here\n"), "notes.csv", ColumnMapping.Text("content"));
        var p = Assert.Single(doc.Problems);
        Assert.Contains("The text column 'content' is not in this file. Its columns are: 'title', 'body'.", p.Message);
    }

    [Fact]
    public void CsvLabelsQuotedFieldsAndSemicolons()
    {
        const string csv = "ticket;text;label\n1;\"Card blocked; please help\";cards\n2;\"He said \"\"hi\"\"\nthen left\";other\n3;Where is my money;payments\n4;Lost card;\n";
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("c", csv), "tickets.csv", ColumnMapping.Labelled("text", "label"));
        Assert.Equal(["Card blocked; please help", "He said \"hi\"\nthen left", "Where is my money"], Texts(doc));
        Assert.Equal(["cards", "other", "payments"], doc.Records.Select(r => r.Label));
        Assert.Equal(new Dictionary<string, int> { ["cards"] = 1, ["other"] = 1, ["payments"] = 1 }, doc.Stats.LabelCounts);
        var p = Assert.Single(doc.Problems);
        Assert.Contains("1 row had no label", p.Message);
    }

    [Fact]
    public void JsonlInvalidLineIsNamedAndOthersKept()
    {
        const string jsonl = "{\"prompt\":\"What is the IBAN format?\",\"response\":\"Two letters, two digits, then the account.\"}\n\n{\"prompt\": \"Broken\", \"response\": }\n[1,2]\n{\"prompt\":\"Opening hours?\",\"response\":\"9 to 5.\"}\n";
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("j", jsonl), "qa.jsonl");
        Assert.Equal(2, doc.Records.Count);
        Assert.Equal("What is the IBAN format?", doc.Records[0].Prompt);
        Assert.Equal("9 to 5.", doc.Records[1].Response);
        Assert.Equal("Opening hours?\n9 to 5.", doc.Records[1].Text);
        Assert.Equal([3, 4], doc.Problems.Select(p => p.Row));
        Assert.StartsWith("Line 3 is not valid JSON", doc.Problems[0].Message);
        Assert.StartsWith("Line 4 is valid JSON but not an object", doc.Problems[1].Message);
    }

    [Fact]
    public void JsonArrayInsteadOfJsonLines()
    {
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("j", "[\n{\"text\": \"a\"},\n{\"text\": \"b\"}\n]"), "data.jsonl");
        Assert.False(doc.IsUsable);
        Assert.Contains(doc.Problems, p => p.Severity == ProblemSeverity.Error && p.Message.Contains("not JSON Lines"));
    }

    [Fact]
    public void TabularPreviewSuggestsMapping()
    {
        using var dir = new TempFolder();
        var csv = dir.Write("c", "id,created,message,category\n1,2024-01-01,My card was charged twice this month,billing\n2,2024-01-02,The app crashes on login,tech\n");
        var preview = DocumentExtractor.PreviewTable(csv, "tickets.csv", DataLimits.Default);
        Assert.Equal(["id", "created", "message", "category"], preview.Columns);
        Assert.Equal("message", preview.SuggestedTextColumn);
        Assert.Equal(ColumnMapping.Labelled("message", "category"), preview.SuggestedMapping);
        Assert.Equal(2, preview.FirstRows.Count);
        Assert.Equal("The app crashes on login", preview.FirstRows[1][2]);

        var jsonl = dir.Write("j", "{\"question\":\"Hi?\",\"answer\":\"Hello.\"}\n");
        Assert.Equal(ColumnMapping.QuestionAnswer("question", "answer"), DocumentExtractor.PreviewTable(jsonl, "qa.jsonl", DataLimits.Default).SuggestedMapping);
    }

    [Fact]
    public void ColumnMappingParsesAndPrints()
    {
        var m = ColumnMapping.Parse("text=body, label=category");
        Assert.Equal(ColumnMapping.Labelled("body", "category"), m);
        Assert.Equal(m, ColumnMapping.Parse(m.ToString()));
        Assert.Throws<FormatException>(() => ColumnMapping.Parse("label=x"));
    }
}
