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
/// The structure comes from the records too, never from markup in their text (the extractor returns clean prose):
/// Markdown, HTML and Word records say whether they are a heading (with its level), a table (with its columns and the
/// row of each line), a list or a paragraph (<see cref="TextStructure"/>). PDF and plain text records cannot say, so a
/// short single-line paragraph without closing punctuation is taken as a heading there (the first one of a file as its
/// title) and numbered headings ("2.1 Sick leave") nest by their numbering; Word paragraphs without a heading style are
/// guessed the same way, under the last styled heading.
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
            DocumentKind.Csv or DocumentKind.Jsonl => [.. records.Select(r => new Block(BlockKind.TableRow, r.Text.Trim(), Row: r.Line))],
            _ => Blocks(records, kind),
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

    // ---------------------------------------------------------------- records to blocks

    /// <summary>
    /// Records that carry their structure (<see cref="TextStructure"/>: Markdown, HTML, Word) are taken as they say;
    /// records without it (plain text, PDF) fall back to guessing headings from the text. Word documents are also
    /// guessed within: many authors make headings by hand (a short bold line) instead of with a heading style, so a
    /// guessed heading there nests under the last styled one. Markdown and HTML mark every heading, so nothing is guessed.
    /// </summary>
    private static List<Block> Blocks(IReadOnlyList<TextRecord> records, DocumentKind kind)
    {
        var blocks = new List<Block>();
        var isPdf = kind == DocumentKind.Pdf;
        var guessInStructured = kind == DocumentKind.Docx;
        int? explicitLevel = null;

        foreach (var record in records)
        {
            int? page = isPdf ? record.Line : null;
            int? line = isPdf ? null : record.Line;
            var text = record.Text.Trim();
            if (text.Length == 0) continue;

            switch (record.Structure)
            {
                case { Kind: RecordKind.Heading } heading:
                    blocks.Add(new Block(BlockKind.Heading, Spaces().Replace(text.ReplaceLineEndings(" "), " "), heading.Level));
                    explicitLevel = heading.Level;
                    break;
                case { Kind: RecordKind.Table } table:
                    var rows = text.Split('\n', StringSplitOptions.TrimEntries);
                    var numbers = table.Rows;
                    // Redaction keeps lines apart; should a row ever have been merged, rows are counted on from the first.
                    var consistent = numbers is not null && numbers.Count == rows.Length;
                    var first = numbers is { Count: > 0 } ? numbers[0] : table.Columns is null ? 1 : 2;
                    for (int r = 0; r < rows.Length; r++)
                        if (rows[r].Length > 0)
                            blocks.Add(new Block(BlockKind.TableRow, rows[r], Page: page, Row: consistent ? numbers![r] : first + r, Line: line));
                    break;
                case { Kind: RecordKind.Paragraph } when guessInStructured && GuessedHeading(text, blocks.Count == 0, explicitLevel) is { } guessed:
                    blocks.Add(guessed);
                    break;
                case { } structured:
                    // Markdown, HTML and Word records are already clean, with line breaks only where the author put them
                    // (list items, code lines, hard breaks).
                    blocks.Add(new Block(BlockKind.Paragraph, text, Page: page, Line: line));
                    break;
                case null when GuessedHeading(text, blocks.Count == 0, explicitLevel) is { } guessed:
                    blocks.Add(guessed);
                    break;
                case null:
                    blocks.Add(new Block(BlockKind.Paragraph, JoinWrappedLines(text), Page: page, Line: line));
                    break;
            }
        }
        return blocks;
    }

    /// <summary>
    /// A heading recognised from its text alone (see <see cref="LooksLikeHeading"/>): numbered headings ("2.1 Sick leave")
    /// nest by their numbering, others sit one level under the last real heading, or, with none, the first of a file is
    /// its title and the rest are its sections.
    /// </summary>
    private static Block? GuessedHeading(string text, bool isFirst, int? explicitLevel)
    {
        if (text.Contains('\n') || !LooksLikeHeading(text)) return null;
        var numbered = NumberedHeading().Match(text);
        var depth = numbered.Success ? numbered.Groups[1].Value.Split('.', StringSplitOptions.RemoveEmptyEntries).Length : (int?)null;
        var level = explicitLevel is { } outer ? outer + (depth ?? 1) : depth ?? (isFirst ? 0 : 1);
        return new Block(BlockKind.Heading, text, level);
    }

    /// <summary>Text and PDF lines are usually wrapped by width, not meaning: join them, keeping list items apart.</summary>
    private static string JoinWrappedLines(string text)
    {
        var sb = new StringBuilder();
        foreach (var l in text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (sb.Length > 0) sb.Append(ListMarker().IsMatch(l) ? '\n' : ' ');
            sb.Append(l);
        }
        return Spaces().Replace(sb.ToString(), " ");
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
