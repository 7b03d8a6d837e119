using System.Text.Json.Serialization;

namespace SlmStudio.Core.Data;

[JsonConverter(typeof(JsonStringEnumConverter<ProblemSeverity>))]
public enum ProblemSeverity
{
    /// <summary>Worth knowing; nothing was left out.</summary>
    Info,
    /// <summary>Part of the file (a row, a page) was left out; the rest is used.</summary>
    Warning,
    /// <summary>The file cannot be used at all.</summary>
    Error,
}

/// <summary>
/// One problem with the user's data, in plain English for non-programmers: which file (and row/line), what is wrong,
/// and what to do about it. <paramref name="File"/> is the original name as the user knows it (already escaped for display).
/// </summary>
public sealed record DataProblem(string File, int? Row, ProblemSeverity Severity, string Message, string Fix);

[JsonConverter(typeof(JsonStringEnumConverter<DocumentKind>))]
public enum DocumentKind { Unknown, Text, Markdown, Pdf, Docx, Csv, Jsonl, Html }

/// <summary>
/// One unit of text: a paragraph of a document or a row of a table. <paramref name="Line"/> is the 1-based line, row
/// (spreadsheet numbering: the header is row 1) or page where it starts. Label/Prompt/Response are filled for
/// classification and question-answer data; <paramref name="Text"/> always holds the text a language model reads.
/// <paramref name="Structure"/> says what the record is in its document (heading, table, list...) where the file said
/// so; the text itself never carries markup for that.
/// </summary>
public sealed record TextRecord(string Text, int? Line = null, string? Label = null, string? Prompt = null, string? Response = null,
    TextStructure? Structure = null)
{
    /// <summary>
    /// The whole conversation of a chat record, when it is more than one question and its answer: a system or context
    /// text, or several turns (JSONL <c>messages</c>). Prompt is then its first question and Response its last answer.
    /// </summary>
    public IReadOnlyList<Tokenization.ChatMessage>? Messages { get; init; }
}

[JsonConverter(typeof(JsonStringEnumConverter<RecordKind>))]
public enum RecordKind { Paragraph, Heading, Table, List, Code }

/// <summary>
/// Where a record sits in its document's structure, kept as data because the extracted text is clean prose (no
/// <c>#</c>, <c>|</c> or tags, issue 12) while search still needs headings and table rows (issue 11).
/// <paramref name="Level"/> is a heading's depth (1 = outermost, as h1 or "Heading 1"; 0 = a document title above those).
/// A table record holds one line per row ("Column: value; Column: value"); <paramref name="Columns"/> are its header
/// cells (null without a header row) and <paramref name="Rows"/> the table row number of each line (the header is row 1,
/// as in a spreadsheet). Set by the extractor for Markdown, HTML and Word; null where the file does not say (plain
/// text, PDF, CSV/JSONL rows).
/// </summary>
public sealed record TextStructure(RecordKind Kind, int Level = 0, IReadOnlyList<string>? Columns = null, IReadOnlyList<int>? Rows = null)
{
    public static TextStructure Paragraph { get; } = new(RecordKind.Paragraph);
    public static TextStructure List { get; } = new(RecordKind.List);
    public static TextStructure Code { get; } = new(RecordKind.Code);
    public static TextStructure Heading(int level) => new(RecordKind.Heading, level);
    public static TextStructure Table(IReadOnlyList<string>? columns, IReadOnlyList<int> rows) => new(RecordKind.Table, 0, columns, rows);

    // Lists compare by their items, so a record read back from the isolated extractor's JSON equals the one written.
    public bool Equals(TextStructure? other) => other is not null && Kind == other.Kind && Level == other.Level
        && Same(Columns, other.Columns) && Same(Rows, other.Rows);

    public override int GetHashCode() => HashCode.Combine(Kind, Level, Columns?.Count, Rows?.Count);

    private static bool Same<T>(IReadOnlyList<T>? a, IReadOnlyList<T>? b) => a is null ? b is null : b is not null && a.SequenceEqual(b);
}

public sealed record DocumentStats(long Characters, long EstimatedTokens, int Records, IReadOnlyDictionary<string, int> LabelCounts)
{
    public static DocumentStats Of(IReadOnlyList<TextRecord> records)
    {
        long chars = 0;
        var labels = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in records)
        {
            chars += r.Text.Length;
            if (r.Label is not null) labels[r.Label] = labels.GetValueOrDefault(r.Label) + 1;
        }
        return new DocumentStats(chars, TokenEstimate.FromCharacters(chars), records.Count, labels);
    }

    public static DocumentStats Sum(IEnumerable<DocumentStats> all)
    {
        long chars = 0, tokens = 0;
        int records = 0;
        var labels = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in all)
        {
            chars += s.Characters;
            tokens += s.EstimatedTokens;
            records += s.Records;
            foreach (var (k, v) in s.LabelCounts) labels[k] = labels.GetValueOrDefault(k) + v;
        }
        return new DocumentStats(chars, tokens, records, labels);
    }
}

public static class TokenEstimate
{
    /// <summary>
    /// About four characters per token is what byte-level BPE vocabularies of a few thousand entries give on English
    /// prose; good enough for "how big is my data" and for training-time estimates before a tokenizer exists.
    /// </summary>
    public static long FromCharacters(long characters) => (characters + 3) / 4;
}

/// <summary>The text extracted from one uploaded file, with everything that went wrong on the way.</summary>
public sealed record ExtractedDocument(
    string OriginalName,
    DocumentKind Kind,
    IReadOnlyList<TextRecord> Records,
    IReadOnlyList<DataProblem> Problems,
    DocumentStats Stats)
{
    /// <summary>SHA-256 (hex) of the uploaded bytes, so a dataset version can list exactly what it was built from.</summary>
    public string? SourceSha256 { get; init; }
    public long SourceBytes { get; init; }

    /// <summary>The original name, safe to show (see <see cref="SafeFileName.ForDisplay"/>).</summary>
    [JsonIgnore]
    public string DisplayName => SafeFileName.ForDisplay(OriginalName);

    /// <summary>True when the file gave nothing usable (an Error problem, or no text at all).</summary>
    [JsonIgnore]
    public bool IsUsable => Records.Count > 0 && !Problems.Any(p => p.Severity == ProblemSeverity.Error);

    /// <summary>The first <paramref name="maxCharacters"/> characters of the text, records separated by blank lines.</summary>
    public string Preview(int maxCharacters = 2000)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var r in Records)
        {
            if (sb.Length > 0) sb.Append("\n\n");
            sb.Append(r.Text);
            if (sb.Length >= maxCharacters) break;
        }
        return sb.Length <= maxCharacters ? sb.ToString() : sb.ToString(0, maxCharacters) + "…";
    }

    public static ExtractedDocument Failed(string originalName, DocumentKind kind, params DataProblem[] problems) =>
        new(originalName, kind, [], problems, DocumentStats.Of([]));
}

/// <summary>
/// Which columns of a CSV/JSONL file mean what. <paramref name="TextColumn"/> is required for plain text and
/// classification; question-answer data names <paramref name="PromptColumn"/> and <paramref name="ResponseColumn"/> instead.
/// </summary>
/// <param name="SystemColumn">Question/answer pairs: an optional column with a system instruction or context text for each question.</param>
/// <param name="MessagesColumn">Multi-turn chats: the JSONL field with the <c>[{role, content}]</c> list of each conversation.</param>
public sealed record ColumnMapping(string? TextColumn, string? LabelColumn = null, string? PromptColumn = null, string? ResponseColumn = null,
    string? SystemColumn = null, string? MessagesColumn = null)
{
    public static ColumnMapping Text(string column) => new(column);
    public static ColumnMapping Labelled(string text, string label) => new(text, label);
    public static ColumnMapping QuestionAnswer(string prompt, string response, string? system = null) => new(null, null, prompt, response, system);
    public static ColumnMapping Conversations(string messages) => new(null, MessagesColumn: messages);

    /// <summary>Parses "text=body,label=category", "prompt=q,response=a[,system=s]" or "messages=messages" (the form the CLI takes).</summary>
    public static ColumnMapping Parse(string spec)
    {
        string? text = null, label = null, prompt = null, response = null, system = null, messages = null;
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0) throw new FormatException($"'{part}' is not of the form role=column (roles: text, label, prompt, response).");
            var column = part[(eq + 1)..].Trim();
            switch (part[..eq].Trim().ToLowerInvariant())
            {
                case "text": text = column; break;
                case "label": label = column; break;
                case "prompt": prompt = column; break;
                case "response": response = column; break;
                case "system": system = column; break;
                case "messages": messages = column; break;
                default: throw new FormatException($"Unknown role '{part[..eq]}' (roles: text, label, prompt, response, system, messages).");
            }
        }
        if (text is null && (prompt is null || response is null) && messages is null)
            throw new FormatException("Name the text column (text=...), both prompt=... and response=..., or messages=....");
        return new ColumnMapping(text, label, prompt, response, system, messages);
    }

    public override string ToString() => string.Join(",", new[]
    {
        TextColumn is null ? null : $"text={TextColumn}",
        LabelColumn is null ? null : $"label={LabelColumn}",
        PromptColumn is null ? null : $"prompt={PromptColumn}",
        ResponseColumn is null ? null : $"response={ResponseColumn}",
        SystemColumn is null ? null : $"system={SystemColumn}",
        MessagesColumn is null ? null : $"messages={MessagesColumn}",
    }.Where(s => s is not null));
}

/// <summary>Column names, the first rows and a suggested mapping of a CSV/JSONL file, for the mapping step.</summary>
public sealed record TabularPreview(
    string OriginalName,
    IReadOnlyList<string> Columns,
    IReadOnlyList<IReadOnlyList<string>> FirstRows,
    string? SuggestedTextColumn,
    ColumnMapping? SuggestedMapping,
    IReadOnlyList<DataProblem> Problems);

/// <summary>Limits applied to every uploaded file. Defaults suit a single CPU server.</summary>
public sealed record DataLimits
{
    public long MaxFileBytes { get; init; } = 100L * 1024 * 1024;
    /// <summary>Total size a DOCX (a zip) may expand to; checked before anything is decompressed into memory.</summary>
    public long MaxUncompressedBytes { get; init; } = 300L * 1024 * 1024;
    public int MaxZipEntries { get; init; } = 10_000;
    /// <summary>Wall-clock limit for parsing one file in the isolated child process.</summary>
    public TimeSpan ParseTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Memory the isolated child process may use.</summary>
    public long ParseMemoryBytes { get; init; } = 1024L * 1024 * 1024;

    public static DataLimits Default { get; } = new();
}

/// <summary>What <see cref="FileInspector"/> found out about a stored upload before any parser touches it.</summary>
public sealed record FileCheck(string OriginalName, DocumentKind Kind, long SizeBytes, IReadOnlyList<DataProblem> Problems)
{
    [JsonIgnore]
    public bool IsAccepted => Kind != DocumentKind.Unknown && !Problems.Any(p => p.Severity == ProblemSeverity.Error);
}
