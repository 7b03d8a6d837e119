using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Instruction;
using SlmStudio.Core.Training;
using static SlmStudio.Cli.CliOptions;

namespace SlmStudio.Cli.Commands;

public sealed class EvalCommand : SlmCommand
{
    private readonly Argument<string?> _artifact = OptionalArgument("artifact folder", "the folder made by 'slm export'");
    private readonly Option<string?> _data = Text("--data", "file | folder | dataset version folder", "the text to measure", required: true);
    private readonly Option<int?> _context = Int("--context", "N", "tokens per window (default: the model's training context length)", 1, 1_000_000);
    private readonly Option<bool> _json = Flag("--json", "print one JSON object instead of text");
    private readonly Option<string?> _textColumn = Text("--text-column", "name", $"classifiers: the column of --data that holds the texts (default {ClassificationRunOptions.DefaultTextColumn})");
    private readonly Option<string?> _labelColumn = Text("--label-column", "name", $"classifiers: the column of --data that holds the right labels (default {ClassificationRunOptions.DefaultLabelColumn})");
    private readonly Option<string?> _baseline = Text("--baseline", "run folder | baseline.zip", "classifiers: also measure the simple keyword model trained beside it (a classification run folder, or its baseline.zip) on the same data");
    private readonly Option<string?> _questionColumn = Text("--question-column", "name", $"chat models: the column of --data that holds the questions (default {InstructionColumns.DefaultQuestion})");
    private readonly Option<string?> _answerColumn = Text("--answer-column", "name", $"chat models: the column of --data that holds the expected answers (default {InstructionColumns.DefaultAnswer})");

    public EvalCommand() : base("eval", "Measure an exported model on your data (ONNX Runtime): loss and perplexity, or a classifier's accuracy.", """
        Reads the text as training does (beginning-of-text, document, end-of-text; non-overlapping windows of the
        model's training context length, or --context N) and prints the mean loss in nats per token, the perplexity
        and bits per character. A dataset version folder (dataset.json, train.txt, val.txt) is measured on val.txt;
        a .txt/.md file or a folder of them is measured whole.

        For a classifier (exported from slm train --task classify), --data is a CSV or JSONL file with a text and
        a label column (--text-column, --label-column): prints accuracy, macro-F1, precision/recall/F1 per label,
        the most frequent confusions and the calibration check. --baseline <run folder> measures the run's simple
        keyword model on the same texts too ("baseline" in --json), for a fair comparison on your own test file.

        For a chat model (exported from slm train --task chat), --data is a CSV, JSONL or Excel file of questions
        and expected answers (--question-column, --answer-column; or JSONL chats with a "messages" list): each
        question is answered greedily and scored; prints exact match, token F1 and ROUGE-L, and the best and worst
        answers beside the expected ones.
        """)
    {
        Arguments.Add(_artifact);
        foreach (var option in new Option[] { _data, _context, _json, _textColumn, _labelColumn, _baseline }) Options.Add(option);
        Options.Add(_questionColumn);
        Options.Add(_answerColumn);
    }

    protected override Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var context = parsed.GetValue(_context);
        var json = parsed.GetValue(_json);
        var artifactDir = parsed.GetValue(_artifact) ?? throw new UsageException("Give the artifact folder (made by 'slm export').");

        if (OnnxClassifier.IsClassifierArtifact(artifactDir)) return Task.FromResult(EvaluateClassifier(parsed, artifactDir, json, cancellationToken));
        if (ChatSession.IsChatArtifact(artifactDir)) return Task.FromResult(EvalChat.Run(artifactDir, parsed.GetValue(_data)!,
            new InstructionColumns(parsed.GetValue(_questionColumn) ?? InstructionColumns.DefaultQuestion, parsed.GetValue(_answerColumn) ?? InstructionColumns.DefaultAnswer), json, cancellationToken));
        if (parsed.GetResult(_questionColumn) is not null || parsed.GetResult(_answerColumn) is not null)
            throw new UsageException("--question-column and --answer-column apply only to chat models (slm train --task chat); this artifact is not one.");
        if (parsed.GetResult(_textColumn) is not null || parsed.GetResult(_labelColumn) is not null || parsed.GetResult(_baseline) is not null)
            throw new UsageException("--text-column, --label-column and --baseline apply only to classifiers; this artifact is a text model.");
        var documents = ReadDocuments(parsed.GetValue(_data)!);
        using var artifact = OnnxArtifact.Open(artifactDir);
        var result = new OnnxEvaluator(artifact).Evaluate(documents, context, ct: cancellationToken);
        var inv = CultureInfo.InvariantCulture;
        if (json)
            Console.WriteLine(string.Create(inv, $$"""{"valLoss":{{result.Loss:R}},"perplexity":{{result.Perplexity:R}},"bitsPerChar":{{result.BitsPerChar:R}},"tokens":{{result.Tokens}},"predictedTokens":{{result.PredictedTokens}},"characters":{{result.Characters}},"contextLength":{{result.ContextLength}}}"""));
        else
        {
            Console.WriteLine(string.Create(inv, $"validation loss: {result.Loss:F4} nats/token"));
            Console.WriteLine(string.Create(inv, $"perplexity:      {result.Perplexity:F3}"));
            Console.WriteLine(string.Create(inv, $"bits per char:   {result.BitsPerChar:F4}"));
            Console.WriteLine(string.Create(inv, $"({result.Characters:N0} characters, {result.Tokens:N0} tokens, {result.Windows} windows of up to {result.ContextLength} tokens)"));
        }
        return Task.FromResult(0);
    }

    private int EvaluateClassifier(ParseResult parsed, string artifactDir, bool json, CancellationToken cancellationToken)
    {
        if (parsed.GetResult(_context) is not null) throw new UsageException("--context applies only to text models; a classifier reads each text up to its own limit.");
        var data = parsed.GetValue(_data)!;
        if (!File.Exists(data)) throw new UsageException($"The data file '{data}' does not exist; give a CSV or JSONL file with a text and a label column.");
        var file = LabelledData.ReadFile(data, Path.GetFileName(data), parsed.GetValue(_textColumn) ?? ClassificationRunOptions.DefaultTextColumn,
            parsed.GetValue(_labelColumn) ?? ClassificationRunOptions.DefaultLabelColumn, cancellationToken);
        if (file.Problems.FirstOrDefault(p => p.Severity == SlmStudio.Core.Data.ProblemSeverity.Error) is { } error) throw new SlmStudio.Core.EngineException($"{error.Message} {error.Fix}");
        if (!file.Examples.Any(e => e.IsUsable)) throw new SlmStudio.Core.EngineException($"'{Path.GetFileName(data)}' has no row with both a text and a label to measure the classifier on.");
        using var classifier = OnnxClassifier.Open(artifactDir);
        var metrics = classifier.Evaluate(file.Examples, ct: cancellationToken);
        var unknown = metrics.Labels.Skip(classifier.Labels.Count).ToList();
        ClassificationMetrics? baseline = null;
        if (parsed.GetValue(_baseline) is { } baselinePath)
        {
            var zip = Directory.Exists(baselinePath) ? ClassificationRunFolder.At(baselinePath).BaselineFile : baselinePath;
            if (!File.Exists(zip)) throw new UsageException($"There is no keyword model at '{baselinePath}'. Give a classification run folder (it holds baseline.zip) or the baseline.zip file itself.");
            baseline = KeywordBaseline.Load(zip).Evaluate(file.Examples);
        }
        var inv = CultureInfo.InvariantCulture;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                baseline = baseline is null ? null : new { accuracy = baseline.Accuracy, macroF1 = baseline.MacroF1, count = baseline.Count },
                accuracy = metrics.Accuracy,
                macroF1 = metrics.MacroF1,
                count = metrics.Count,
                perLabel = metrics.PerLabel.Select(l => new { label = l.Label, precision = l.Precision, recall = l.Recall, f1 = l.F1, support = l.Support }),
                confusionMatrix = metrics.ConfusionMatrix,
                labels = metrics.Labels,
                topConfusions = metrics.TopConfusions,
                expectedCalibrationError = metrics.Calibration.ExpectedCalibrationError,
                unknownLabels = unknown,
            }, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
            return 0;
        }
        Console.WriteLine(string.Create(inv, $"accuracy: {metrics.Accuracy:P1} ({metrics.Count:N0} texts)"));
        Console.WriteLine(string.Create(inv, $"macro-F1: {metrics.MacroF1:0.000}"));
        if (baseline is not null)
            Console.WriteLine(string.Create(inv, $"the simple keyword model on the same texts: accuracy {baseline.Accuracy:P1}, macro-F1 {baseline.MacroF1:0.000}"));
        Console.WriteLine();
        var width = Math.Max(5, metrics.Labels.Max(l => l.Length));
        Console.WriteLine($"{"label".PadRight(width)}  precision  recall     F1  texts");
        foreach (var l in metrics.PerLabel)
            Console.WriteLine(string.Create(inv, $"{l.Label.PadRight(width)}  {l.Precision,9:0.000}  {l.Recall,6:0.000}  {l.F1,5:0.000}  {l.Support,5:N0}"));
        if (metrics.TopConfusions.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine("most frequent mistakes:");
            foreach (var c in metrics.TopConfusions) Console.WriteLine(string.Create(inv, $"  {c.Actual} taken for {c.Predicted}: {c.Count:N0}"));
        }
        if (metrics.Calibration.Summary() is { } calibration) Console.WriteLine($"\n{calibration}");
        if (unknown.Count > 0) Console.WriteLine($"\nThe data has labels the classifier was never trained on ({string.Join(", ", unknown.Take(10))}); their texts always count as mistakes.");
        return 0;
    }

    /// <summary>A dataset version's validation split, or the whole of a text file or folder.</summary>
    private static IReadOnlyList<string> ReadDocuments(string path)
    {
        var val = Path.Combine(path, "val.txt");
        if (Directory.Exists(path) && File.Exists(Path.Combine(path, "dataset.json")) && File.Exists(val)) return [TextCorpus.ReadText(val)];
        if (File.Exists(path))
        {
            if (!TextCorpus.TextExtensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase))
                throw new UsageException($"'{Path.GetFileName(path)}' is not a .txt or .md file.");
            return [TextCorpus.ReadText(path)];
        }
        if (Directory.Exists(path))
        {
            var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                .Where(f => TextCorpus.TextExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) throw new UsageException($"The folder '{path}' contains no .txt or .md files.");
            return files.Select(TextCorpus.ReadText).Where(t => t.Trim().Length > 0).ToList();
        }
        throw new UsageException($"The data path '{path}' does not exist.");
    }
}
