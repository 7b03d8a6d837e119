using System.Text;
using System.Text.RegularExpressions;
using SlmStudio.Core.Data;

namespace SlmStudio.Core.Retrieval;

/// <summary>
/// Splits an extracted document into passages that follow its own structure: headings give each passage its heading
/// path, a passage never crosses a heading or a PDF page, paragraphs of one section are joined up to
/// <see cref="PassageOptions.MaxWords"/>, longer paragraphs are cut at sentence ends, and every table or CSV row is a
/// passage of its own ("Column: value; Column: value", so a row still reads well without its table).
/// </summary>
/// <remarks>
/// Where the passages come from: a frozen dataset version keeps only <c>train.txt</c>/<c>val.txt</c> (records shuffled
/// between the two, without their file), so the structure must be taken before freezing. The split works on the
/// records the extraction pipeline keeps (<see cref="TextRecord"/>: paragraphs, rows, the line/page/paragraph they
/// start on), and freezing should call <see cref="Split(string, DocumentKind, IReadOnlyList{TextRecord}, PassageOptions?)"/>
/// per source file with the records after redaction and duplicate removal (so the index never holds text the
/// dataset itself left out) and write them with <see cref="PassagesFile.Write"/> as <c>passages.jsonl</c>.
/// What the records keep decides what can be recovered: Markdown records are the raw paragraphs (real heading levels
/// and tables); Word, HTML, PDF and plain text records have lost their heading styles, so a short single-line
/// paragraph without closing punctuation is taken as a heading there (the first one of a file as its title) and
/// numbered headings ("2.1 Sick leave") nest by their numbering.
/// </remarks>
public static partial class PassageSplitter
{
    public static IReadOnlyList<Passage> Split(ExtractedDocument document, PassageOptions? options = null) =>
        Split(document.OriginalName, document.Kind, document.Records, options);

    /// <summary>The passages of one extracted document, under the file name <paramref name="fileName"/>.</summary>
    public static IReadOnlyList<Passage> Split(string fileName, ExtractedDocument document, PassageOptions? options = null) =>
        Split(fileName, document.Kind, document.Records, options);

    /// <summary>
    /// The passages of what a dataset version is frozen from: the reviewed records (personal data already redacted,
    /// duplicates removed), file by file in upload order. This is what freezing writes as <c>passages.jsonl</c>.
    /// </summary>
    public static IReadOnlyList<Passage> Split(PreparationReview review, PassageOptions? options = null)
    {
        var kinds = new Dictionary<string, DocumentKind>(StringComparer.Ordinal);
        foreach (var source in review.Sources) kinds.TryAdd(source.OriginalName, source.Kind);
        return [.. review.Records
            .GroupBy(r => r.File, StringComparer.Ordinal)
            .SelectMany(file => Split(file.Key, kinds.GetValueOrDefault(file.Key, DocumentKind.Text), [.. file.Select(r => r.Record)], options))];
    }

    /// <summary>The passages of every usable document, in order.</summary>
    public static IReadOnlyList<Passage> SplitAll(IEnumerable<ExtractedDocument> documents, PassageOptions? options = null) =>
        [.. documents.Where(d => d.IsUsable).SelectMany(d => Split(d, options))];

    public static IReadOnlyList<Passage> Split(string fileName, DocumentKind kind, IReadOnlyList<TextRecord> records, PassageOptions? options = null)
    {
        var blocks = kind switch
        {
            DocumentKind.Markdown => MarkdownBlocks(records),
            DocumentKind.Csv or DocumentKind.Jsonl => [.. records.Select(r => new Block(BlockKind.TableRow, r.Text.Trim(), Row: r.Line))],
            _ => ProseBlocks(records, isPdf: kind == DocumentKind.Pdf),
        };
        return Pack(fileName, blocks, options ?? PassageOptions.Default);
    }

    public static int CountWords(string text)
    {
        int words = 0;
        bool inWord = false;
        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c)) inWord = false;
            else if (!inWord) { inWord = true; words++; }
        }
        return words;
    }

    private enum BlockKind { Heading, Paragraph, TableRow }

    private sealed record Block(BlockKind Kind, string Text, int Level = 0, int? Page = null, int? Row = null, int? Line = null);

    // ---------------------------------------------------------------- packing

    private static List<Passage> Pack(string fileName, IReadOnlyList<Block> blocks, PassageOptions options)
    {
        var passages = new List<Passage>();
        var headings = new List<(int Level, string Text)>();
        var paragraphs = new List<string>();
        int words = 0;
        int? startLine = null, page = null;

        foreach (var block in blocks)
        {
            switch (block.Kind)
            {
                case BlockKind.Heading:
                    Flush();
                    headings.RemoveAll(h => h.Level >= block.Level);
                    headings.Add((block.Level, block.Text));
                    break;
                case BlockKind.TableRow:
                    Flush();
                    Emit(block.Text, block.Page, block.Row, block.Line);
                    break;
                case BlockKind.Paragraph:
                    if (paragraphs.Count > 0 && block.Page != page) Flush();
                    var w = CountWords(block.Text);
                    if (w > options.MaxWords)
                    {
                        Flush();
                        foreach (var piece in SplitLongParagraph(block.Text, options)) Emit(piece, block.Page, null, block.Line);
                        break;
                    }
                    if (words + w > options.MaxWords) Flush();
                    if (paragraphs.Count == 0) { startLine = block.Line; page = block.Page; }
                    paragraphs.Add(block.Text);
                    words += w;
                    break;
            }
        }
        Flush();
        return passages;

        void Flush()
        {
            if (paragraphs.Count > 0) Emit(string.Join("\n\n", paragraphs), page, null, startLine);
            paragraphs.Clear();
            words = 0;
        }

        void Emit(string text, int? atPage, int? row, int? line)
        {
            if (!text.Any(char.IsLetterOrDigit)) return;
            passages.Add(new Passage($"{fileName}#{passages.Count + 1}", fileName, [.. headings.Select(h => h.Text)], text, atPage, row, line));
        }
    }

    private static List<string> SplitLongParagraph(string text, PassageOptions options)
    {
        // Pieces of equal size rather than full pieces and a short remainder: 840 words become 5 x 168, not 4 x 200 + 40.
        var total = CountWords(text);
        var pieceTarget = (int)Math.Ceiling(total / Math.Ceiling(total / (double)options.TargetWords));
        var pieces = new List<string>();
        var piece = new StringBuilder();
        int pieceWords = 0;
        foreach (var sentence in SentenceEnd().Split(text))
        {
            var w = CountWords(sentence);
            if (pieceWords > 0 && pieceWords + w > pieceTarget)
            {
                pieces.Add(piece.ToString());
                piece.Clear();
                pieceWords = 0;
            }
            if (w > options.MaxWords)
            {
                // One run-on "sentence" (a list without full stops, a table dumped as text): cut it by words.
                var tokens = sentence.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                for (int i = 0; i < tokens.Length; i += options.TargetWords)
                    pieces.Add(string.Join(' ', tokens.Skip(i).Take(options.TargetWords)));
                continue;
            }
            if (piece.Length > 0) piece.Append(' ');
            piece.Append(sentence);
            pieceWords += w;
        }
        if (pieceWords > 0)
        {
            // Sentence lengths can still leave a short tail: it joins the piece before when both fit in one passage.
            if (pieces.Count > 0 && CountWords(pieces[^1]) + pieceWords <= options.MaxWords) pieces[^1] += " " + piece;
            else pieces.Add(piece.ToString());
        }
        return pieces;
    }

    // ---------------------------------------------------------------- Markdown

    private static List<Block> MarkdownBlocks(IReadOnlyList<TextRecord> records)
    {
        var blocks = new List<Block>();
        var pending = new List<(string Text, bool ListItem)>();
        int? pendingLine = null;
        var fence = new List<string>();
        int? fenceLine = null;
        string? fenceMarker = null;

        foreach (var record in records)
        {
            var lines = record.Text.Split('\n');
            var baseLine = record.Line ?? 0;
            var hasTable = lines.Any(l => TableSeparator().IsMatch(l));
            List<string>? header = null;
            int tableRow = 0;

            for (int j = 0; j < lines.Length; j++)
            {
                var raw = lines[j];
                int lineNo = baseLine + j;
                if (fenceMarker is not null)
                {
                    if (raw.TrimStart().StartsWith(fenceMarker, StringComparison.Ordinal))
                    {
                        if (fence.Count > 0) blocks.Add(new Block(BlockKind.Paragraph, string.Join("\n", fence), Line: fenceLine));
                        fence.Clear();
                        fenceMarker = null;
                    }
                    else fence.Add(raw);
                    continue;
                }
                if (FenceOpen().Match(raw) is { Success: true } open)
                {
                    FlushPending();
                    fenceMarker = open.Groups[1].Value;
                    fenceLine = lineNo + 1;
                    continue;
                }
                if (AtxHeading().Match(raw) is { Success: true } atx)
                {
                    FlushPending();
                    AddHeading(atx.Groups[1].Length, atx.Groups[2].Value);
                    continue;
                }
                if (SetextUnderline().Match(raw) is { Success: true } underline && pending.Count == 1 && !pending[0].ListItem && !hasTable)
                {
                    var title = pending[0].Text;
                    pending.Clear();
                    AddHeading(underline.Groups[1].Value.StartsWith('=') ? 1 : 2, title);
                    continue;
                }
                if (ThematicBreak().IsMatch(raw) || ReferenceDefinition().IsMatch(raw))
                {
                    FlushPending();
                    continue;
                }
                if (hasTable && raw.Contains('|'))
                {
                    FlushPending();
                    if (TableSeparator().IsMatch(raw)) continue;
                    var cells = TableCells(raw);
                    tableRow++;
                    if (header is null) header = cells;
                    else
                    {
                        var rowText = RowText(header, cells);
                        if (rowText.Length > 0) blocks.Add(new Block(BlockKind.TableRow, rowText, Row: tableRow, Line: lineNo));
                    }
                    continue;
                }
                var content = Blockquote().Replace(raw, "");
                var item = ListMarker().Match(content);
                if (item.Success) content = content[item.Length..];
                var clean = MarkdownText.Clean(content);
                if (clean.Length == 0) continue;
                if (pending.Count == 0) pendingLine = lineNo;
                pending.Add((clean, item.Success));
            }
            // A blank line (a record boundary) ends a Markdown paragraph.
            FlushPending();
        }
        if (fence.Count > 0) blocks.Add(new Block(BlockKind.Paragraph, string.Join("\n", fence), Line: fenceLine));
        return blocks;

        void AddHeading(int level, string text)
        {
            var clean = MarkdownText.Clean(text);
            if (clean.Length > 0) blocks.Add(new Block(BlockKind.Heading, clean, level));
        }

        void FlushPending()
        {
            if (pending.Count == 0) return;
            var sb = new StringBuilder();
            foreach (var (text, listItem) in pending)
            {
                if (sb.Length > 0) sb.Append(listItem ? '\n' : ' ');
                sb.Append(text);
            }
            blocks.Add(new Block(BlockKind.Paragraph, sb.ToString(), Line: pendingLine));
            pending.Clear();
        }
    }

    private static List<string> TableCells(string line)
    {
        var t = line.Trim().Replace("\\|", "\u0000", StringComparison.Ordinal);
        if (t.StartsWith('|')) t = t[1..];
        if (t.EndsWith('|')) t = t[..^1];
        return [.. t.Split('|').Select(c => MarkdownText.Clean(c.Replace('\u0000', '|')))];
    }

    /// <summary>"Leave type: Parental leave; Days: 20": each value with its column name, empty cells left out.</summary>
    private static string RowText(IReadOnlyList<string> header, IReadOnlyList<string> cells)
    {
        var parts = new List<string>();
        for (int i = 0; i < cells.Count; i++)
        {
            if (cells[i].Length == 0) continue;
            var name = i < header.Count ? header[i] : "";
            parts.Add(name.Length > 0 && !string.Equals(name, cells[i], StringComparison.OrdinalIgnoreCase) ? $"{name}: {cells[i]}" : cells[i]);
        }
        return string.Join("; ", parts);
    }

    // ---------------------------------------------------------------- Word, HTML, PDF, plain text

    private static List<Block> ProseBlocks(IReadOnlyList<TextRecord> records, bool isPdf)
    {
        var blocks = new List<Block>();
        List<string>? header = null;
        int tableRow = 0;
        int? tablePage = null;

        for (int i = 0; i < records.Count; i++)
        {
            var record = records[i];
            int? page = isPdf ? record.Line : null;
            int? line = isPdf ? null : record.Line;
            var lines = record.Text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (lines.Length == 0) continue;

            // The extractor writes Word table rows (one record per table) and HTML table rows (one record per row)
            // with their cells joined by " | "; consecutive such rows form one table whose first row is the header.
            if (lines.All(l => l.Contains(" | ", StringComparison.Ordinal)))
            {
                if (header is null || tablePage != page) { header = null; tableRow = 0; tablePage = page; }
                foreach (var l in lines)
                {
                    var cells = l.Split(" | ").Select(c => c.Trim()).ToList();
                    tableRow++;
                    if (header is null) { header = cells; continue; }
                    var rowText = RowText(header, cells);
                    if (rowText.Length > 0) blocks.Add(new Block(BlockKind.TableRow, rowText, Page: page, Row: tableRow, Line: line));
                }
                continue;
            }
            header = null;

            if (lines.Length == 1 && LooksLikeHeading(lines[0]))
            {
                var numbered = NumberedHeading().Match(lines[0]);
                int level = numbered.Success ? numbered.Groups[1].Value.Split('.', StringSplitOptions.RemoveEmptyEntries).Length
                    : blocks.Count == 0 ? 0 : 1;
                blocks.Add(new Block(BlockKind.Heading, lines[0], level));
                continue;
            }

            // Text and PDF lines are usually wrapped by width, not meaning: join them, keeping list items apart.
            var sb = new StringBuilder();
            foreach (var l in lines)
            {
                if (sb.Length > 0) sb.Append(ListMarker().IsMatch(l) ? '\n' : ' ');
                sb.Append(l);
            }
            blocks.Add(new Block(BlockKind.Paragraph, Spaces().Replace(sb.ToString(), " "), Page: page, Line: line));
        }
        return blocks;
    }

    /// <summary>
    /// A heading, when the formatting that said so is gone: one short line, starting with a capital or a section
    /// number, not ending like a sentence or a lead-in (a question mark is allowed: FAQ headings are questions).
    /// </summary>
    private static bool LooksLikeHeading(string line)
    {
        if (line.Length > 90) return false;
        var words = CountWords(line);
        if (words is 0 or > 12) return false;
        var first = line.FirstOrDefault(char.IsLetterOrDigit);
        if (first == default || (char.IsLetter(first) && !char.IsUpper(first))) return false;
        return !".,;:".Contains(line[^1]);
    }

    [GeneratedRegex(@"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")] private static partial Regex AtxHeading();
    [GeneratedRegex(@"^\s{0,3}(=+|-{2,})\s*$")] private static partial Regex SetextUnderline();
    [GeneratedRegex(@"^\s{0,3}([-*_])(\s*\1){2,}\s*$")] private static partial Regex ThematicBreak();
    [GeneratedRegex(@"^\s{0,3}(```+|~~~+)")] private static partial Regex FenceOpen();
    [GeneratedRegex(@"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")] private static partial Regex TableSeparator();
    [GeneratedRegex(@"^\s{0,3}\[[^\]]+\]:\s*\S+")] private static partial Regex ReferenceDefinition();
    [GeneratedRegex(@"^\s*(?:>\s?)+")] private static partial Regex Blockquote();
    [GeneratedRegex(@"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")] private static partial Regex ListMarker();
    [GeneratedRegex(@"^(\d+(?:\.\d+)*)\.?\s+\S")] private static partial Regex NumberedHeading();
    [GeneratedRegex(@"(?<=[.!?])\s+(?=[\p{Lu}\d""'(])")] private static partial Regex SentenceEnd();
    [GeneratedRegex(@"[ \t]+")] private static partial Regex Spaces();
}

/// <summary>
/// Passages as JSON lines (<c>passages.jsonl</c>), one passage per line. The file is written exactly as
/// <see cref="SearchIndex.HashPassages"/> hashes, so its SHA-256 equals the passage hash in an index's manifest: a
/// dataset version's recorded file hash tells, without reading the passages, whether an index belongs to them.
/// </summary>
public static class PassagesFile
{
    private static System.Text.Json.JsonSerializerOptions Json => SearchIndex.PassageJson;

    public static void Write(string path, IEnumerable<Passage> passages) => AtomicFile.Write(path, temp =>
    {
        using var writer = new StreamWriter(temp, false, new UTF8Encoding(false)) { NewLine = "\n" };
        foreach (var p in passages) writer.WriteLine(System.Text.Json.JsonSerializer.Serialize(p, Json));
    });

    public static IReadOnlyList<Passage> Read(string path) =>
        [.. File.ReadLines(path).Where(l => l.Length > 0)
            .Select(l => System.Text.Json.JsonSerializer.Deserialize<Passage>(l, Json) ?? throw new EngineException($"{path} holds an empty passage line."))];
}
