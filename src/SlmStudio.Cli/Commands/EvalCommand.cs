using System.CommandLine;
using System.Globalization;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Training;
using static SlmStudio.Cli.CliOptions;

namespace SlmStudio.Cli.Commands;

public sealed class EvalCommand : SlmCommand
{
    private readonly Argument<string?> _artifact = OptionalArgument("artifact folder", "the folder made by 'slm export'");
    private readonly Option<string?> _data = Text("--data", "file | folder | dataset version folder", "the text to measure", required: true);
    private readonly Option<int?> _context = Int("--context", "N", "tokens per window (default: the model's training context length)", 1, 1_000_000);
    private readonly Option<bool> _json = Flag("--json", "print one JSON object instead of text");

    public EvalCommand() : base("eval", "Validation loss, perplexity and bits per character of an exported model on a text (ONNX Runtime).", """
        Reads the text as training does (beginning-of-text, document, end-of-text; non-overlapping windows of the
        model's training context length, or --context N) and prints the mean loss in nats per token, the perplexity
        and bits per character. A dataset version folder (dataset.json, train.txt, val.txt) is measured on val.txt;
        a .txt/.md file or a folder of them is measured whole.
        """)
    {
        Arguments.Add(_artifact);
        foreach (var option in new Option[] { _data, _context, _json }) Options.Add(option);
    }

    protected override Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var context = parsed.GetValue(_context);
        var json = parsed.GetValue(_json);
        var artifactDir = parsed.GetValue(_artifact) ?? throw new UsageException("Give the artifact folder (made by 'slm export').");

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
