using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Inference;
using static SlmStudio.Cli.CliOptions;

namespace SlmStudio.Cli.Commands;

public sealed class BenchClassifyCommand : SlmCommand
{
    private const int DefaultPasses = 3;
    private static readonly int[] BatchSizes = [1, 32];

    private readonly Argument<string?> _artifact = OptionalArgument("artifact folder", "a classifier exported with 'slm export' from 'slm train --task classify'");
    private readonly Option<string?> _data = Text("--data", "file", "measure on the texts of this CSV, JSONL or Excel file (default: built-in short customer messages)");
    private readonly Option<string?> _textColumn = Text("--text-column", "name", $"--data: the column that holds the texts (default {ClassificationRunOptions.DefaultTextColumn})");
    private readonly Option<int?> _passes = Int("--passes", "N", $"timed passes per batch size; the median is reported (default {DefaultPasses})", 1, 100);
    private readonly Option<int?> _ortThreads = Int("--ort-threads", "N", "ONNX Runtime's intra-op threads (default: 1 below 50M parameters, else one per core)", 1, 1024);
    private readonly Option<bool> _json = Flag("--json", "print one JSON object instead of a table");

    public BenchClassifyCommand() : base("classify", "Measure how many texts per second an exported classifier sorts (ONNX Runtime, batch 1 and 32).", """
        Classifies texts through ONNX Runtime as a program would (tokenize, pad each batch, run the graph), one text
        at a time and in batches of 32, after a warm-up, and prints texts per second and milliseconds per batch
        (the median of --passes timed passes). The texts are short customer messages built in, or the texts of
        --data. The machine's core count and load average are printed beside the figures, because other work on
        the machine slows the measurement. --json prints one object whose "results" array holds
        {batchSize, texts, textsPerSecond, millisecondsPerBatch, millisecondsPerText} per batch size.
        """)
    {
        Arguments.Add(_artifact);
        foreach (var option in new Option[] { _data, _textColumn, _passes, _ortThreads, _json }) Options.Add(option);
    }

    private static string? LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : null;

    protected override Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var artifactDir = parsed.GetValue(_artifact) ?? throw new UsageException("Give the classifier's artifact folder (made by 'slm export').");
        if (!OnnxClassifier.IsClassifierArtifact(artifactDir))
            throw new UsageException($"{artifactDir} is not an exported classifier. Train one with 'slm train --task classify' and export it with 'slm export'.");
        if (parsed.GetResult(_textColumn) is not null && parsed.GetResult(_data) is null) throw new UsageException("--text-column applies only with --data.");
        var passes = parsed.GetValue(_passes) ?? DefaultPasses;
        var ortThreads = parsed.GetValue(_ortThreads);
        IReadOnlyList<string> texts = ClassificationSpeed.SampleTexts;
        var source = "built-in customer messages";
        if (parsed.GetValue(_data) is { } data)
        {
            texts = ClassificationSpeed.ReadTexts(data, parsed.GetValue(_textColumn) ?? ClassificationRunOptions.DefaultTextColumn);
            source = Path.GetFileName(data);
        }

        using var classifier = OnnxClassifier.Open(artifactDir, ortThreads);
        var meanTokens = classifier.Encode(texts).Average(ids => ids.Length);
        var results = BatchSizes.Select(b => ClassificationSpeed.Measure(classifier, texts, b, passes, ct: cancellationToken)).ToList();
        var threads = ortThreads ?? (classifier.Config.ParameterCount < OnnxDecoder.SingleThreadBelowParameters ? 1 : Environment.ProcessorCount);
        if (parsed.GetValue(_json))
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                artifact = Path.GetFullPath(artifactDir), labels = classifier.Labels.Count, parameters = classifier.Config.ParameterCount,
                texts = source, distinctTexts = texts.Count, meanTokens, cpuThreads = Environment.ProcessorCount, ortIntraOpThreads = threads,
                loadAverage = LoadAverage(), passes,
                results = results.Select(r => new { r.BatchSize, r.Texts, r.TextsPerSecond, millisecondsPerBatch = r.MillisecondsPerBatch, millisecondsPerText = r.MillisecondsPerText }),
            }, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
            return Task.FromResult(0);
        }
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"classifier: {classifier.Config.ParameterCount:N0} parameters, {classifier.Labels.Count} labels; texts: {source} ({texts.Count:N0} distinct, {meanTokens:0.#} tokens on average)"));
        Console.WriteLine(string.Create(inv, $"CPU: {Environment.ProcessorCount} cores, load average {LoadAverage() ?? "n/a"}; ONNX Runtime intra-op threads {threads}; median of {passes} passes"));
        Console.WriteLine($"{"batch",5} {"texts/s",10} {"ms per batch",13} {"ms per text",12}");
        foreach (var r in results)
            Console.WriteLine(string.Create(inv, $"{r.BatchSize,5} {r.TextsPerSecond,10:N1} {r.MillisecondsPerBatch,13:F2} {r.MillisecondsPerText,12:F3}"));
        return Task.FromResult(0);
    }
}
