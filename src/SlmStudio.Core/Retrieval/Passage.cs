using System.Text.Json.Serialization;

namespace SlmStudio.Core.Retrieval;

/// <summary>
/// One searchable piece of a document, small enough to show as a source and to quote to a model, with where it comes
/// from. <paramref name="Id"/> is "<c>file#n</c>" (n counts the file's passages from 1), stable for the same input.
/// <paramref name="HeadingPath"/> runs from the outermost heading to the innermost; <paramref name="Page"/> is set for
/// PDFs, <paramref name="Row"/> for table rows (spreadsheet numbering: a table's header is row 1), and
/// <paramref name="Line"/> is where the passage starts: the line in text and Markdown files, the paragraph or block
/// number in Word and HTML files. <paramref name="Text"/> is clean text (no Markdown or HTML markup).
/// </summary>
public sealed record Passage(
    string Id,
    string File,
    IReadOnlyList<string> HeadingPath,
    string Text,
    int? Page = null,
    int? Row = null,
    int? Line = null)
{
    public const string HeadingSeparator = " › ";

    // The heading path is a list: compare its items, so two passages read back from an index or a file are equal
    // to the ones written.
    public bool Equals(Passage? other) => other is not null
        && Id == other.Id && File == other.File && Text == other.Text && Page == other.Page && Row == other.Row && Line == other.Line
        && HeadingPath.SequenceEqual(other.HeadingPath);

    public override int GetHashCode() => HashCode.Combine(Id, File, Text, Page, Row, Line, Heading);

    /// <summary>The heading path as one line ("Leave › Annual leave"); empty when the passage has no heading.</summary>
    [JsonIgnore]
    public string Heading => string.Join(HeadingSeparator, HeadingPath);

    [JsonIgnore]
    public int WordCount => PassageSplitter.CountWords(Text);

    /// <summary>"handbook.md, Leave › Annual leave, page 3": where to find the passage, for people.</summary>
    [JsonIgnore]
    public string SourceLabel
    {
        get
        {
            var parts = new List<string> { Data.SafeFileName.ForDisplay(File) };
            if (HeadingPath.Count > 0) parts.Add(Heading);
            if (Page is { } p) parts.Add($"page {p}");
            if (Row is { } r) parts.Add($"row {r}");
            return string.Join(", ", parts);
        }
    }
}

/// <summary>Passage sizes. Defaults follow the usual advice for passage retrieval: long enough to hold an answer with its context, short enough that a match means something.</summary>
public sealed record PassageOptions
{
    /// <summary>Paragraphs of one section are joined until the passage would pass this many words.</summary>
    public int MaxWords { get; init; } = 300;
    /// <summary>A single paragraph longer than <see cref="MaxWords"/> is cut at sentence ends into pieces of about this size.</summary>
    public int TargetWords { get; init; } = 200;

    public static PassageOptions Default { get; } = new();
}
