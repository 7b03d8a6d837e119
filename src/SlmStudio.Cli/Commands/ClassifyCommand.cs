using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Inference;
using static SlmStudio.Cli.CliOptions;

namespace SlmStudio.Cli.Commands;

public sealed class ClassifyCommand : SlmCommand
{
    private readonly Argument<string?> _artifact = OptionalArgument("artifact folder", "the classifier folder made by 'slm export' from a classification run");
    private readonly Option<string?> _text = Text("--text", "text", "one text to classify: prints every label with its probability, most likely first");
    private readonly Option<string?> _file = Text("--file", "file", "a CSV or JSONL file of texts to classify (with --text-column and --out)");
    private readonly Option<string?> _textColumn = Text("--text-column", "name", $"with --file: the column that holds the texts (default {ClassificationRunOptions.DefaultTextColumn})");
    private readonly Option<string?> _out = Text("--out", "file", "with --file: the CSV to write, the input rows plus predicted_label and confidence");
    private readonly Option<int?> _batchSize = Int("--batch-size", "N", "texts per ONNX Runtime call (default 32)", 1, 4096);
    private readonly Option<bool> _json = Flag("--json", "with --text: print one JSON object instead of text");

    public ClassifyCommand() : base("classify", "Sort texts into labels with an exported classifier (ONNX Runtime).", """
        With --text, prints the labels ranked by probability. With --file in.csv --out predictions.csv, writes
        every input row back with two more columns: predicted_label (the most likely label) and confidence (its
        probability, 0 to 1). JSONL input is written out as CSV as well.
        """)
    {
        Arguments.Add(_artifact);
        foreach (var option in new Option[] { _text, _file, _textColumn, _out, _batchSize, _json }) Options.Add(option);
        Validators.Add(result =>
        {
            var hasText = result.GetResult(_text) is not null;
            var hasFile = result.GetResult(_file) is not null;
            if (hasText == hasFile) result.AddError("Give either --text or --file.");
            else if (hasFile && result.GetResult(_out) is null) result.AddError("--file needs --out, the CSV file to write the predictions to.");
            else if (hasText && (result.GetResult(_out) is not null || result.GetResult(_textColumn) is not null)) result.AddError("--out and --text-column apply only with --file.");
            else if (hasFile && result.GetValue(_json)) result.AddError("--json applies only with --text.");
        });
    }

    protected override Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var artifactDir = parsed.GetValue(_artifact) ?? throw new UsageException("Give the classifier folder (made by 'slm export' from a classification run).");
        var batchSize = parsed.GetValue(_batchSize) ?? 32;
        using var classifier = OnnxClassifier.Open(artifactDir);
        var inv = CultureInfo.InvariantCulture;
        if (parsed.GetValue(_text) is { } text)
        {
            var ranked = classifier.Classify([text], batchSize, cancellationToken)[0];
            if (parsed.GetValue(_json))
                Console.WriteLine(JsonSerializer.Serialize(new { label = ranked[0].Label, confidence = ranked[0].Probability, labels = ranked.Select(r => new { label = r.Label, probability = r.Probability }) }));
            else
            {
                var width = ranked.Max(r => r.Label.Length);
                foreach (var r in ranked) Console.WriteLine(string.Create(inv, $"{r.Label.PadRight(width)}  {r.Probability,7:P1}"));
            }
            return Task.FromResult(0);
        }

        var table = BatchClassification.ReadTable(parsed.GetValue(_file)!, parsed.GetValue(_textColumn) ?? ClassificationRunOptions.DefaultTextColumn, cancellationToken);
        var output = parsed.GetValue(_out)!;
        var rows = BatchClassification.ClassifyToCsv(classifier, table, output, batchSize, cancellationToken);
        Console.WriteLine(string.Create(inv, $"Classified {rows:N0} rows; wrote {output} with the columns {BatchClassification.PredictedLabelColumn} and {BatchClassification.ConfidenceColumn}."));
        return Task.FromResult(0);
    }
}
