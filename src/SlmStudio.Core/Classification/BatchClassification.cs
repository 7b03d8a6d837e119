using System.Globalization;
using CsvHelper;
using SlmStudio.Core.Data;
using SlmStudio.Core.Inference;

namespace SlmStudio.Core.Classification;

/// <summary>The rows of a CSV or JSONL file with every column, and which column holds the texts.</summary>
public sealed record TextTable(IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows, int TextColumn)
{
    public IEnumerable<string> Texts => Rows.Select(r => r[TextColumn]);
}

/// <summary>
/// A file of texts classified in one go (the portal's batch upload and <c>slm classify --file</c>): read the rows, add
/// <c>predicted_label</c> and <c>confidence</c>, write them back as CSV (RFC 4180 quoting, so texts with commas, quotes
/// or line breaks survive).
/// </summary>
public static class BatchClassification
{
    public const string PredictedLabelColumn = "predicted_label";
    public const string ConfidenceColumn = "confidence";

    public static TextTable ReadTable(string path, string textColumn, CancellationToken ct = default)
    {
        if (!File.Exists(path)) throw new EngineException($"The file '{path}' does not exist.");
        var display = SafeFileName.ForDisplay(Path.GetFileName(path));
        var check = FileInspector.Inspect(path, Path.GetFileName(path), DataLimits.Default);
        if (!check.IsAccepted) throw new EngineException(string.Join(" ", check.Problems.Take(1).Select(p => $"{p.Message} {p.Fix}")));
        if (check.Kind is not (DocumentKind.Csv or DocumentKind.Jsonl))
            throw new EngineException($"'{display}' is not a CSV or JSONL file. Save the texts as CSV (one row per text) or JSON Lines, with one column for the text.");
        var problems = new List<DataProblem>();
        var table = TabularReader.Read(DocumentExtractor.ReadText(path), check.Kind, display, problems, ct);
        if (problems.FirstOrDefault(p => p.Severity == ProblemSeverity.Error) is { } error) throw new EngineException($"{error.Message} {error.Fix}");
        var index = IndexOf(table.Columns, textColumn);
        if (index < 0)
            throw new EngineException($"The text column '{textColumn}' is not in '{display}'. Its columns are: {string.Join(", ", table.Columns.Take(20).Select(c => $"'{SafeFileName.ForDisplay(c)}'"))}. Give the right name with --text-column.");
        var rows = table.Rows.Select(r => (IReadOnlyList<string>)[.. Enumerable.Range(0, table.Columns.Count).Select(i => i < r.Cells.Length ? r.Cells[i] ?? "" : "")]).ToList();
        return new TextTable(table.Columns, rows, index);
    }

    /// <summary>Classifies every row's text and writes the rows with the top label and its probability; returns the row count.</summary>
    public static int ClassifyToCsv(OnnxClassifier classifier, TextTable table, string outputPath, int batchSize = 32, CancellationToken ct = default)
    {
        var texts = table.Texts.Select(t => DocumentExtractor.Clean(t).Trim()).ToList();
        var probabilities = classifier.Probabilities(texts, batchSize, ct);
        AtomicFile.Write(outputPath, temp =>
        {
            using var file = new StreamWriter(temp, false, new System.Text.UTF8Encoding(false));
            using var csv = CsvWriter.Create(file, null, leaveOpen: true);
            foreach (var column in table.Columns.Append(PredictedLabelColumn).Append(ConfidenceColumn)) csv.WriteField(column);
            csv.EndRecord();
            for (int r = 0; r < table.Rows.Count; r++)
            {
                var prediction = ClassificationMetrics.FromProbabilities(0, probabilities[r]);
                foreach (var cell in table.Rows[r]) csv.WriteField(cell);
                csv.WriteField(classifier.Labels[prediction.Predicted]);
                csv.WriteField(prediction.Confidence.ToString("0.####", CultureInfo.InvariantCulture));
                csv.EndRecord();
            }
            csv.Flush();
        });
        return table.Rows.Count;
    }

    private static int IndexOf(IReadOnlyList<string> columns, string name)
    {
        for (int i = 0; i < columns.Count; i++) if (string.Equals(columns[i], name, StringComparison.Ordinal)) return i;
        for (int i = 0; i < columns.Count; i++) if (string.Equals(columns[i], name.Trim(), StringComparison.OrdinalIgnoreCase)) return i;
        return -1;
    }
}
