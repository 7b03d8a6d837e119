using System.Text;
using Markdig;
using Markdig.Extensions.Tables;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace SlmStudio.Core.Data;

/// <summary>
/// Turns Markdown into the plain prose a language model should learn from: headings and list items become plain
/// lines, tables become one line per row ("Column: value; Column: value"), emphasis, link and image syntax go (link
/// text and image descriptions stay), HTML tags go and entities are decoded. Parsing is Markdig's (CommonMark plus
/// pipe and grid tables), so what counts as a heading, a table or code is what every Markdown viewer shows.
/// </summary>
public static class MarkupCleaner
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder()
        .UsePipeTables()
        .UseGridTables()
        .UseEmphasisExtras()
        .UseAutoLinks()
        .UseTaskLists()
        .UseDefinitionLists()
        .UseFootnotes()
        .Build();

    /// <summary>
    /// One record per heading, paragraph, list, table or code block, with the 1-based line it starts on and what it is
    /// (<see cref="TextStructure"/>: heading levels and table columns survive as data, not as markup).
    /// </summary>
    public static List<TextRecord> MarkdownRecords(string markdown, CancellationToken ct = default)
    {
        var document = Markdown.Parse(markdown, Pipeline);
        var records = new List<TextRecord>();
        foreach (var block in document) AddBlock(block, records, ct);
        return records;
    }

    private static void AddBlock(Block block, List<TextRecord> records, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var line = block.Line + 1;
        switch (block)
        {
            case HeadingBlock heading:
                Add(records, InlineText(heading.Inline), line, TextStructure.Heading(heading.Level));
                break;
            case ParagraphBlock paragraph:
                Add(records, InlineText(paragraph.Inline), line, TextStructure.Paragraph);
                break;
            case ListBlock list:
                var items = new List<string>();
                ListLines(list, items);
                Add(records, string.Join('\n', items), line, TextStructure.List);
                break;
            case Table table:
                if (TableRecord(TableRows(table), firstRowIsHeader: table.Count > 0 && table[0] is TableRow { IsHeader: true }, line) is { } tableRecord)
                    records.Add(tableRecord);
                break;
            case CodeBlock code:
                // Code is kept as written (without the fences): it is the user's content, and rewording it would break it.
                Add(records, code.Lines.ToString().TrimEnd(), line, TextStructure.Code);
                break;
            case HtmlBlock html:
                Add(records, HtmlToText(html.Lines.ToString()), line, TextStructure.Paragraph);
                break;
            case LinkReferenceDefinitionGroup or ThematicBreakBlock or BlankLineBlock:
                break;
            case ContainerBlock container:   // quotes, footnotes, definition lists
                foreach (var child in container) AddBlock(child, records, ct);
                break;
        }
    }

    private static void ListLines(ListBlock list, List<string> lines)
    {
        foreach (var item in list.OfType<ListItemBlock>())
            foreach (var child in item)
                switch (child)
                {
                    case ListBlock nested: ListLines(nested, lines); break;
                    case ParagraphBlock p: AddLine(lines, InlineText(p.Inline)); break;
                    case CodeBlock code: AddLine(lines, code.Lines.ToString().TrimEnd()); break;
                    case Table t: AddLine(lines, TableText(TableRows(t), t.Count > 0 && t[0] is TableRow { IsHeader: true })); break;
                    case LeafBlock leaf when leaf.Inline is not null: AddLine(lines, InlineText(leaf.Inline)); break;
                }

        static void AddLine(List<string> lines, string text)
        {
            if (text.Length > 0) lines.Add(text);
        }
    }

    private static List<List<string>> TableRows(Table table) =>
        [.. table.OfType<TableRow>().Select(row => row.OfType<TableCell>()
            .Select(cell => string.Join(" ", cell.OfType<LeafBlock>().Select(b => InlineText(b.Inline)).Where(t => t.Length > 0)))
            .ToList())];

    /// <summary>
    /// A table as one line per row. With a header row each cell is named by its column ("Plan: Dental; Cost: 12 EUR"),
    /// which a model can read as a statement; without one the cells are joined by semicolons.
    /// </summary>
    public static string TableText(IReadOnlyList<IReadOnlyList<string>> rows, bool firstRowIsHeader) =>
        string.Join('\n', TableLines(rows, firstRowIsHeader).Lines);

    /// <summary>
    /// A table as one record (see <see cref="TableText(IReadOnlyList{IReadOnlyList{string}}, bool)"/>) that remembers
    /// its column names and the table row of each line, so search can offer every row as a passage of its own; null
    /// when the table holds no text.
    /// </summary>
    public static TextRecord? TableRecord(IReadOnlyList<IReadOnlyList<string>> rows, bool firstRowIsHeader, int? line)
    {
        var (lines, rowNumbers, columns) = TableLines(rows, firstRowIsHeader);
        if (lines.Count == 0) return null;
        return new TextRecord(DocumentExtractor.Clean(string.Join('\n', lines)), line, Structure: TextStructure.Table(columns, rowNumbers));
    }

    private static (List<string> Lines, List<int> Rows, List<string>? Columns) TableLines(IReadOnlyList<IReadOnlyList<string>> rows, bool firstRowIsHeader)
    {
        var lines = new List<string>();
        var rowNumbers = new List<int>();
        var header = firstRowIsHeader && rows.Count > 1 ? rows[0] : null;
        for (int r = header is null ? 0 : 1; r < rows.Count; r++)
        {
            var row = rows[r];
            var cells = new List<string>();
            for (int i = 0; i < row.Count; i++)
            {
                var value = Squash(row[i]);
                if (value.Length == 0) continue;
                var name = header is not null && i < header.Count ? Squash(header[i]) : "";
                cells.Add(name.Length > 0 ? $"{name}: {value}" : value);
            }
            if (cells.Count == 0) continue;
            lines.Add(string.Join("; ", cells));
            rowNumbers.Add(r + 1);   // spreadsheet numbering: the first row of the table is row 1
        }
        return (lines, rowNumbers, header?.Select(Squash).ToList());
    }

    private static string TableText(List<List<string>> rows, bool firstRowIsHeader) =>
        TableText([.. rows.Select(r => (IReadOnlyList<string>)r)], firstRowIsHeader);

    private static string Squash(string s) => string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    private static string InlineText(ContainerInline? inline)
    {
        if (inline is null) return "";
        var sb = new StringBuilder();
        Append(inline, sb);
        return string.Join('\n', sb.ToString().Split('\n').Select(l => Squash(l))).Trim();
    }

    private static void Append(Inline inline, StringBuilder sb)
    {
        switch (inline)
        {
            case LiteralInline literal: sb.Append(literal.Content.ToString()); break;
            case CodeInline code: sb.Append(code.Content); break;
            case AutolinkInline autolink: sb.Append(autolink.Url); break;
            case LineBreakInline br: sb.Append(br.IsHard ? '\n' : ' '); break;
            case HtmlEntityInline entity: sb.Append(entity.Transcoded.ToString()); break;
            case HtmlInline html:
                if (html.Tag.StartsWith("<br", StringComparison.OrdinalIgnoreCase)) sb.Append('\n');
                break;
            case ContainerInline container:   // emphasis, links (their text), images (their description)
                foreach (var child in container) Append(child, sb);
                break;
        }
    }

    /// <summary>The visible text of an HTML fragment, tags dropped and entities decoded (AngleSharp's parser).</summary>
    private static string HtmlToText(string html)
    {
        var document = new AngleSharp.Html.Parser.HtmlParser().ParseDocument($"<body>{html}</body>");
        foreach (var hidden in document.QuerySelectorAll("script, style, template, noscript").ToList()) hidden.Remove();
        return string.Join('\n', (document.Body?.TextContent ?? "").Split('\n').Select(Squash).Where(l => l.Length > 0));
    }

    private static void Add(List<TextRecord> records, string text, int line, TextStructure structure)
    {
        text = DocumentExtractor.Clean(text).Trim();
        if (text.Length > 0) records.Add(new TextRecord(text, line, Structure: structure));
    }
}
