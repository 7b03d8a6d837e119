using SlmStudio.Core.Data;

namespace SlmStudio.Core.Classification;

/// <summary>
/// One labelled row as the user wrote it: text and label exactly as in the file (labels are not trimmed, so that
/// "Billing" and "billing " can be pointed out), and the row or line where it stands (spreadsheet numbering for CSV).
/// </summary>
public sealed record LabelledExample(string Text, string Label, int Row)
{
    /// <summary>True when the row can be trained on: it has both a text and a label.</summary>
    public bool IsUsable => !string.IsNullOrWhiteSpace(Text) && !string.IsNullOrWhiteSpace(Label);
}

/// <summary>The labelled rows of one file and the problems met while reading it.</summary>
public sealed record LabelledFile(IReadOnlyList<LabelledExample> Examples, IReadOnlyList<DataProblem> Problems)
{
    public bool IsUsable => Examples.Any(e => e.IsUsable) && !Problems.Any(p => p.Severity == ProblemSeverity.Error);
}

/// <summary>
/// Reads (text, label) rows of a CSV or JSONL file through <see cref="TabularReader"/>. Unlike
/// <see cref="DocumentExtractor.Extract"/>, rows with an empty text or label are kept, so that the review can list them.
/// </summary>
public static class LabelledData
{
    public static LabelledFile ReadFile(string storedPath, string originalName, string textColumn, string labelColumn, CancellationToken ct = default)
    {
        var check = FileInspector.Inspect(storedPath, originalName, DataLimits.Default);
        if (!check.IsAccepted) return new LabelledFile([], check.Problems);
        var display = SafeFileName.ForDisplay(originalName);
        if (check.Kind is not (DocumentKind.Csv or DocumentKind.Jsonl))
            return new LabelledFile([], [new DataProblem(display, null, ProblemSeverity.Error,
                "Labelled examples must come from a CSV or JSONL file with a text column and a label column.",
                "Save the examples as CSV (one row per example) or as JSON Lines, with one column for the text and one for the label.")]);
        return Read(DocumentExtractor.ReadText(storedPath), check.Kind, display, textColumn, labelColumn, ct);
    }

    /// <summary>Rows of <paramref name="content"/> (the text of a CSV or JSONL file) as labelled examples.</summary>
    public static LabelledFile Read(string content, DocumentKind kind, string display, string textColumn, string labelColumn, CancellationToken ct = default)
    {
        var problems = new List<DataProblem>();
        var table = TabularReader.Read(content, kind, display, problems, ct);
        if (problems.Any(p => p.Severity == ProblemSeverity.Error)) return new LabelledFile([], problems);
        var text = ColumnIndex(table.Columns, textColumn);
        var label = ColumnIndex(table.Columns, labelColumn);
        var columns = table.Columns.Count == 0 ? "(none)" : string.Join(", ", table.Columns.Take(20).Select(c => $"'{SafeFileName.ForDisplay(c)}'"));
        if (text < 0)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, $"The text column '{textColumn}' is not in this file. Its columns are: {columns}.",
                "Pick the column that holds the texts, or rename that column in the file's first row."));
        if (label < 0)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, $"The label column '{labelColumn}' is not in this file. Its columns are: {columns}.",
                "Pick the column that holds the labels, or rename that column in the file's first row."));
        if (text < 0 || label < 0) return new LabelledFile([], problems);
        var examples = new List<LabelledExample>(table.Rows.Count);
        foreach (var row in table.Rows)
        {
            ct.ThrowIfCancellationRequested();
            // The text is cleaned (line ends, control characters) and trimmed as every other text of the engine; the label is
            // kept exactly as typed so that the review can show labels that differ only by case or spaces.
            examples.Add(new LabelledExample(DocumentExtractor.Clean(row.Cells[text] ?? "").Trim(), row.Cells[label] ?? "", row.Number));
        }
        return new LabelledFile(examples, problems);
    }

    private static int ColumnIndex(IReadOnlyList<string> columns, string name)
    {
        for (int i = 0; i < columns.Count; i++) if (string.Equals(columns[i], name, StringComparison.Ordinal)) return i;
        for (int i = 0; i < columns.Count; i++) if (string.Equals(columns[i], name.Trim(), StringComparison.OrdinalIgnoreCase)) return i;
        return -1;
    }
}
