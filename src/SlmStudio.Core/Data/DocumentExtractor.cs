using System.Security.Cryptography;
using System.Text;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Wordprocessing;
using UglyToad.PdfPig;
using UglyToad.PdfPig.DocumentLayoutAnalysis.TextExtractor;
using UglyToad.PdfPig.Exceptions;

namespace SlmStudio.Core.Data;

/// <summary>
/// Extracts text records from one stored upload (in this process; <see cref="IsolatedExtractor"/> runs the same code in
/// a child process with time and memory limits). Never throws for bad input: every failure becomes a <see cref="DataProblem"/>.
/// </summary>
public static class DocumentExtractor
{
    public static Task<ExtractedDocument> ExtractAsync(string storedPath, string originalName, ColumnMapping? mapping, DataLimits limits, CancellationToken ct) =>
        Task.Run(() => Extract(storedPath, originalName, mapping, limits, ct), ct);

    public static ExtractedDocument Extract(string storedPath, string originalName, ColumnMapping? mapping, DataLimits limits, CancellationToken ct)
    {
        var check = FileInspector.Inspect(storedPath, originalName, limits);
        if (!check.IsAccepted) return ExtractedDocument.Failed(originalName, check.Kind, [.. check.Problems]);

        var display = SafeFileName.ForDisplay(originalName);
        var problems = new List<DataProblem>(check.Problems);
        List<TextRecord> records;
        try
        {
            records = check.Kind switch
            {
                DocumentKind.Text => Paragraphs(ReadText(storedPath)),
                DocumentKind.Markdown => MarkupCleaner.MarkdownRecords(ReadText(storedPath), ct),
                DocumentKind.Pdf => Pdf(storedPath, display, problems, ct),
                DocumentKind.Docx => Docx(storedPath, limits, ct),
                DocumentKind.Html => Html(ReadText(storedPath), ct),
                DocumentKind.Csv or DocumentKind.Jsonl => Tabular(storedPath, check.Kind, display, mapping, problems, ct),
                _ => throw new InvalidOperationException($"No extractor for {check.Kind}."),
            };
        }
        catch (OperationCanceledException) { throw; }
        catch (Exception e) when (IsDamagedFileException(check.Kind, e))
        {
            problems.Add(Damaged(display, check.Kind));
            records = [];
        }

        if (records.Count == 0 && !problems.Any(p => p.Severity == ProblemSeverity.Error))
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, "No text was found in this file.",
                "Check that it is the right file and that its text can be selected and copied when you open it."));

        var (hash, size) = HashFile(storedPath);
        return new ExtractedDocument(originalName, check.Kind, records, problems, DocumentStats.Of(records))
        {
            SourceSha256 = hash,
            SourceBytes = size,
        };
    }

    /// <summary>Column names, first rows and a suggested mapping for a CSV/JSONL upload (the column-mapping step).</summary>
    public static TabularPreview PreviewTable(string storedPath, string originalName, DataLimits limits, int rows = 10)
    {
        var check = FileInspector.Inspect(storedPath, originalName, limits);
        if (!check.IsAccepted) return new TabularPreview(originalName, [], [], null, null, check.Problems);
        var display = SafeFileName.ForDisplay(originalName);
        if (check.Kind is not (DocumentKind.Csv or DocumentKind.Jsonl))
            return new TabularPreview(originalName, [], [], null, null,
                [new DataProblem(display, null, ProblemSeverity.Error, "Only CSV and JSONL files have columns to map.", "Pick a CSV or JSONL file.")]);
        var problems = new List<DataProblem>();
        var table = TabularReader.Read(ReadText(storedPath), check.Kind, display, problems, CancellationToken.None);
        var suggestion = TabularReader.Suggest(table);
        return new TabularPreview(originalName, table.Columns,
            [.. table.Rows.Take(rows).Select(r => (IReadOnlyList<string>)[.. r.Cells.Select(c => c ?? "")])],
            suggestion?.TextColumn ?? suggestion?.PromptColumn, suggestion, problems);
    }

    /// <summary>The word for a record's <see cref="TextRecord.Line"/> in this kind of file.</summary>
    public static string LocationWord(DocumentKind kind) => kind switch
    {
        DocumentKind.Csv => "row",
        DocumentKind.Jsonl or DocumentKind.Text or DocumentKind.Markdown => "line",
        DocumentKind.Pdf => "page",
        _ => "paragraph",
    };

    public static (string Sha256, long Bytes) HashFile(string path)
    {
        using var s = File.OpenRead(path);
        return (Convert.ToHexStringLower(SHA256.HashData(s)), s.Length);
    }

    internal static string ReadText(string path) => Clean(TextDecoding.Decode(File.ReadAllBytes(path)).Text);

    /// <summary>Unifies line ends and drops control characters that only confuse a tokenizer.</summary>
    internal static string Clean(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\r') { sb.Append('\n'); if (i + 1 < text.Length && text[i + 1] == '\n') i++; }
            else if (c == '\u00A0') sb.Append(' ');
            else if (c is '\n' or '\t' || !char.IsControl(c)) { if (c != '\uFEFF') sb.Append(c); }
        }
        return sb.ToString();
    }

    /// <summary>Splits text into paragraphs at blank lines, remembering the 1-based line each starts on.</summary>
    internal static List<TextRecord> Paragraphs(string text, int? fixedLocation = null)
    {
        var records = new List<TextRecord>();
        var current = new StringBuilder();
        int start = 0, lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var line = raw.TrimEnd();
            if (line.Trim().Length == 0)
            {
                Flush();
                continue;
            }
            if (current.Length == 0) start = lineNo;
            else current.Append('\n');
            current.Append(line);
        }
        Flush();
        return records;

        void Flush()
        {
            if (current.Length == 0) return;
            records.Add(new TextRecord(current.ToString(), fixedLocation ?? start));
            current.Clear();
        }
    }

    private static bool IsDamagedFileException(DocumentKind kind, Exception e) => e is not (OutOfMemoryException or InsufficientExecutionStackException)
        && kind is DocumentKind.Pdf or DocumentKind.Docx;

    private static DataProblem Damaged(string display, DocumentKind kind) => kind == DocumentKind.Pdf
        ? new DataProblem(display, null, ProblemSeverity.Error, "This PDF is damaged or incomplete and could not be read (it may have been cut off while copying or uploading).",
            "Open it in a PDF viewer; if it opens, use 'Print → Save as PDF' to make a clean copy and upload that. Otherwise get a fresh copy from its author.")
        : new DataProblem(display, null, ProblemSeverity.Error, "This Word document is damaged or incomplete and could not be read.",
            "Open it in Word; if it opens, save it as a new .docx and upload that. Otherwise get a fresh copy from its author.");

    // ---------------------------------------------------------------- PDF

    private static List<TextRecord> Pdf(string path, string display, List<DataProblem> problems, CancellationToken ct)
    {
        var records = new List<TextRecord>();
        PdfDocument document;
        try
        {
            document = PdfDocument.Open(path, new ParsingOptions { UseLenientParsing = true, SkipMissingFonts = true });
        }
        catch (PdfDocumentEncryptedException)
        {
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, "This PDF is protected with a password, so its text cannot be read.",
                "Open it with the password and save an unprotected copy (Print → Save as PDF), then upload that."));
            return records;
        }
        using (document)
        {
            var scannedPages = new List<int>();
            var failedPages = new List<int>();
            for (int p = 1; p <= document.NumberOfPages; p++)
            {
                ct.ThrowIfCancellationRequested();
                try
                {
                    var page = document.GetPage(p);
                    var text = Clean(ContentOrderTextExtractor.GetText(page, new ContentOrderTextExtractor.Options { SeparateParagraphsWithDoubleNewline = true }));
                    if (!text.Any(char.IsLetterOrDigit))
                    {
                        if (page.GetImages().Any()) scannedPages.Add(p);
                        continue;
                    }
                    records.AddRange(Paragraphs(text, p));
                }
                catch (Exception e) when (e is not (OperationCanceledException or OutOfMemoryException or InsufficientExecutionStackException))
                {
                    failedPages.Add(p);
                }
            }
            if (records.Count == 0 && scannedPages.Count > 0)
                problems.Add(new DataProblem(display, null, ProblemSeverity.Error,
                    "This PDF contains only scanned images of pages and no text layer, so there is no text to read.",
                    "Run it through text recognition (OCR), e.g. 'Recognize text' in Adobe Acrobat or your scanner's 'searchable PDF' option, and upload the result."));
            else if (scannedPages.Count > 0)
                problems.Add(new DataProblem(display, scannedPages[0], ProblemSeverity.Warning,
                    $"{Pages(scannedPages)} {(scannedPages.Count == 1 ? "is a scanned image" : "are scanned images")} without a text layer and {(scannedPages.Count == 1 ? "was" : "were")} left out.",
                    "If those pages matter, run the PDF through text recognition (OCR) and upload it again."));
            if (failedPages.Count > 0 && records.Count == 0)
                problems.Add(new DataProblem(display, null, ProblemSeverity.Error,
                    "This PDF is damaged or built in an unusual way: none of its pages could be read.",
                    "Open the PDF in a viewer and use 'Print → Save as PDF' to make a clean copy, then upload that."));
            else if (failedPages.Count > 0)
                problems.Add(new DataProblem(display, failedPages[0], ProblemSeverity.Warning,
                    $"{Pages(failedPages)} could not be read (damaged content) and {(failedPages.Count == 1 ? "was" : "were")} left out.",
                    "Open the PDF in a viewer and use 'Print → Save as PDF' to make a clean copy, then upload that."));
        }
        return records;

        static string Pages(List<int> pages) => pages.Count == 1 ? $"Page {pages[0]}"
            : pages.Count <= 10 ? $"Pages {string.Join(", ", pages)}"
            : $"{pages.Count} pages ({string.Join(", ", pages.Take(10))}, …)";
    }

    // ---------------------------------------------------------------- DOCX

    private static List<TextRecord> Docx(string path, DataLimits limits, CancellationToken ct)
    {
        var records = new List<TextRecord>();
        // The inflated size was checked already; the SDK's own per-part cap is a second guard.
        using var doc = WordprocessingDocument.Open(path, false, new OpenSettings { MaxCharactersInPart = limits.MaxUncompressedBytes });
        var body = doc.MainDocumentPart?.Document?.Body ?? throw new InvalidDataException("The document has no body.");
        var headingStyles = HeadingStyles(doc.MainDocumentPart!.StyleDefinitionsPart);
        int paragraph = 0;
        Walk(body);
        return records;

        void Walk(OpenXmlElement container)
        {
            foreach (var element in container.ChildElements)
            {
                ct.ThrowIfCancellationRequested();
                switch (element)
                {
                    case Paragraph p:
                        paragraph++;
                        var text = ParagraphText(p).Trim();
                        if (text.Length > 0)
                            records.Add(new TextRecord(text, paragraph, Structure: HeadingLevel(p, headingStyles) is { } level
                                ? TextStructure.Heading(level)
                                : p.ParagraphProperties?.NumberingProperties is not null ? TextStructure.List : TextStructure.Paragraph));
                        break;
                    case Table t:
                        paragraph++;
                        var rows = t.Elements<TableRow>()
                            .Select(r => (IReadOnlyList<string>)[.. r.Elements<TableCell>().Select(c => string.Join(" ", c.Elements<Paragraph>().Select(ParagraphText)).Trim())])
                            .ToList();
                        // Word marks a header row only as "repeat at the top of each page", which few authors set; a first
                        // row of short labels without digits above other rows is read as the header too.
                        var header = t.Elements<TableRow>().FirstOrDefault()?.TableRowProperties?.GetFirstChild<TableHeader>() is not null
                            || rows.Count > 1 && rows[0].All(c => c.Length is > 0 and <= 40 && !c.Any(char.IsDigit));
                        if (MarkupCleaner.TableRecord(rows, header, paragraph) is { } table) records.Add(table);
                        break;
                    case SdtBlock or SdtContentBlock or CustomXmlBlock:
                        Walk(element);
                        break;
                }
            }
        }

        static int? HeadingLevel(Paragraph p, Dictionary<string, int> headingStyles)
        {
            // Direct formatting first (an outline level set on the paragraph itself), then its style.
            if (p.ParagraphProperties?.OutlineLevel?.Val?.Value is { } outline && outline < 9) return outline + 1;
            var styleId = p.ParagraphProperties?.ParagraphStyleId?.Val?.Value;
            if (styleId is null) return null;
            if (headingStyles.TryGetValue(styleId, out var level)) return level;
            // Documents without a styles part (made by other tools) still name Word's built-in style ids.
            var m = System.Text.RegularExpressions.Regex.Match(styleId, @"^heading\s?([1-9])$", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
            return m.Success ? int.Parse(m.Groups[1].ValueSpan, provider: System.Globalization.CultureInfo.InvariantCulture)
                : string.Equals(styleId, "Title", StringComparison.OrdinalIgnoreCase) ? 0 : null;
        }

        static string ParagraphText(Paragraph p)
        {
            var sb = new StringBuilder();
            foreach (var e in p.Descendants())
            {
                switch (e)
                {
                    case Text t: sb.Append(t.Text); break;
                    case TabChar: sb.Append('\t'); break;
                    case Break or CarriageReturn: sb.Append('\n'); break;
                    case NoBreakHyphen: sb.Append('-'); break;
                }
            }
            return Clean(sb.ToString());
        }
    }

    /// <summary>
    /// Heading level per paragraph style id. Style ids are translated with Word's interface language ("berschrift1" in
    /// German), but the style names of built-in styles are always English ("heading 1", "Title"), and a custom style
    /// counts when it carries an outline level or is based on a heading style.
    /// </summary>
    private static Dictionary<string, int> HeadingStyles(StyleDefinitionsPart? part)
    {
        var levels = new Dictionary<string, int>(StringComparer.Ordinal);
        var styles = part?.Styles?.Elements<Style>().Where(s => s.StyleId?.Value is not null).ToList() ?? [];
        foreach (var style in styles)
        {
            var name = style.StyleName?.Val?.Value ?? "";
            int? level = style.StyleParagraphProperties?.OutlineLevel?.Val?.Value is { } outline && outline < 9 ? outline + 1
                : name.StartsWith("heading ", StringComparison.OrdinalIgnoreCase) && int.TryParse(name.AsSpan(8), out var n) && n is >= 1 and <= 9 ? n
                : string.Equals(name, "Title", StringComparison.OrdinalIgnoreCase) ? 0
                : null;
            if (level is { } l) levels[style.StyleId!.Value!] = l;
        }
        // One step of inheritance covers "My Heading" based on "Heading 2".
        foreach (var style in styles)
            if (!levels.ContainsKey(style.StyleId!.Value!) && style.BasedOn?.Val?.Value is { } parent && levels.TryGetValue(parent, out var inherited))
                levels[style.StyleId!.Value!] = inherited;
        return levels;
    }

    // ---------------------------------------------------------------- HTML

    private static readonly HashSet<string> SkippedElements = new(StringComparer.OrdinalIgnoreCase)
    {
        "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed", "head", "title", "meta", "link",
        "select", "option", "datalist", "math",
    };

    private static readonly HashSet<string> BlockElements = new(StringComparer.OrdinalIgnoreCase)
    {
        "p", "div", "section", "article", "header", "footer", "nav", "aside", "main", "h1", "h2", "h3", "h4", "h5", "h6",
        "li", "ul", "ol", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "caption", "pre", "blockquote",
        "figure", "figcaption", "form", "fieldset", "address", "hr", "details", "summary", "body",
    };

    private static List<TextRecord> Html(string html, CancellationToken ct)
    {
        var document = new HtmlParser().ParseDocument(html);
        var records = new List<TextRecord>();
        var current = new StringBuilder();
        int block = 0;
        var kind = TextStructure.Paragraph;
        if (document.Body is { } body) Walk(body, preformatted: false);
        Flush();
        return records;

        void Walk(INode node, bool preformatted)
        {
            foreach (var child in node.ChildNodes)
            {
                if (child is IText text)
                {
                    var t = text.Data;
                    if (!preformatted) t = System.Text.RegularExpressions.Regex.Replace(t, @"\s+", " ");
                    if (current.Length == 0) t = t.TrimStart();
                    current.Append(t);
                }
                else if (child is IElement element)
                {
                    ct.ThrowIfCancellationRequested();
                    if (!IsVisible(element)) continue;
                    var name = element.LocalName;
                    if (name == "br") { current.Append('\n'); continue; }
                    if (name == "table")
                    {
                        Flush();
                        if (HtmlTable(element, ++block) is { } table) records.Add(table);
                        continue;
                    }
                    if (name is "img" && element.GetAttribute("alt") is { Length: > 0 } alt) current.Append(alt);
                    var isBlock = BlockElements.Contains(name);
                    if (isBlock) Flush();
                    var outer = kind;
                    if (isBlock) kind = HtmlKind(name) ?? kind;
                    Walk(element, preformatted || name == "pre");
                    if (isBlock) Flush();
                    kind = outer;
                }
            }
        }

        void Flush()
        {
            block++;
            var t = string.Join("\n", current.ToString().Split('\n').Select(l => l.Trim())).Trim();
            current.Clear();
            if (t.Length > 0) records.Add(new TextRecord(Clean(t), block, Structure: kind));
        }
    }

    private static TextStructure? HtmlKind(string element) => element switch
    {
        "h1" or "h2" or "h3" or "h4" or "h5" or "h6" => TextStructure.Heading(element[1] - '0'),
        "li" or "dt" or "dd" => TextStructure.List,
        "pre" => TextStructure.Code,
        "blockquote" or "figcaption" or "caption" => TextStructure.Paragraph,
        _ => null,
    };

    /// <summary>A table as rows of "Column: value" (see <see cref="MarkupCleaner.TableRecord"/>); nested tables are read as cell text.</summary>
    private static TextRecord? HtmlTable(IElement table, int block)
    {
        var rows = table.QuerySelectorAll("tr").Where(r => r.Closest("table") == table && IsVisible(r)).ToList();
        var cells = rows.Select(r => (IReadOnlyList<string>)[.. r.Children.Where(c => c.LocalName is "td" or "th" && IsVisible(c)).Select(VisibleText)]).ToList();
        var header = rows.Count > 1 && (rows[0].ParentElement?.LocalName == "thead" || rows[0].Children.All(c => c.LocalName == "th"));
        return MarkupCleaner.TableRecord(cells, header, block);

        static string VisibleText(INode node)
        {
            if (node is IText t) return t.Data;
            if (node is IElement e && !IsVisible(e)) return "";
            if (node is IElement { LocalName: "br" }) return " ";
            return string.Concat(node.ChildNodes.Select(VisibleText));
        }
    }

    private static bool IsVisible(IElement e)
    {
        if (SkippedElements.Contains(e.LocalName)) return false;
        if (e.HasAttribute("hidden")) return false;
        if (string.Equals(e.GetAttribute("aria-hidden"), "true", StringComparison.OrdinalIgnoreCase)) return false;
        if (e.LocalName == "input") return false;
        var style = e.GetAttribute("style");
        if (style is not null)
        {
            var compact = style.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant();
            if (compact.Contains("display:none", StringComparison.Ordinal) || compact.Contains("visibility:hidden", StringComparison.Ordinal)) return false;
        }
        return true;
    }

    // ---------------------------------------------------------------- CSV / JSONL

    private static List<TextRecord> Tabular(string path, DocumentKind kind, string display, ColumnMapping? mapping, List<DataProblem> problems, CancellationToken ct)
    {
        var table = TabularReader.Read(ReadText(path), kind, display, problems, ct);
        if (problems.Any(p => p.Severity == ProblemSeverity.Error)) return [];
        return TabularReader.ToRecords(table, mapping, display, problems, ct);
    }
}
