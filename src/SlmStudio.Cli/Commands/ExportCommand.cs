using System.Globalization;
using SlmStudio.Core.Export;

namespace SlmStudio.Cli.Commands;

public sealed class ExportCommand : ICliCommand
{
    public string Name => "export";
    public string Summary => "Export a trained model (or a Hugging Face Llama folder) to a self-contained ONNX artifact folder.";
    public string Help => """
        Usage: slm export <run folder | Hugging Face model folder> --out <artifact folder>

        Writes model.onnx (decoder with KV cache, onnxruntime-genai layout), genai_config.json, tokenizer.json,
        tokenizer_config.json, config.json + model.safetensors (Hugging Face format), a model card README.md and
        manifest.json (SHA-256 and size of every file, parity figures). Checks that ONNX Runtime reproduces the
        TorchSharp model's logits within 1e-4; exit code 1 if it does not. The output folder must not exist or be empty.
        """;

    public Task<int> RunAsync(CliArgs args, CancellationToken cancellationToken)
    {
        var output = args.Required("out");
        args.EnsureAllUsed(1);
        if (args.Positional.Count == 0) throw new UsageException("Give the run folder or model folder to export.");
        var result = ModelExporter.Export(args.Positional[0], output, new Progress(), cancellationToken);
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"parity: prefill max abs diff {result.Parity.PrefillMaxAbsDiff:E2}, decode {result.Parity.DecodeMaxAbsDiff:E2} (tolerance {result.Parity.Tolerance:E0}), greedy {(result.Parity.GreedyMatches ? "identical" : "DIFFERS")}"));
        foreach (var f in result.Files) Console.WriteLine(string.Create(inv, $"  {f.Path,-24} {f.Bytes,14:N0} bytes  sha256 {f.Sha256}"));
        Console.WriteLine(string.Create(inv, $"export time: {result.Duration.TotalSeconds:F2} s (of which parity check {result.ParityDuration.TotalSeconds:F2} s)"));
        if (!result.Passed)
        {
            Console.Error.WriteLine($"error: the ONNX model does not reproduce the training model within {result.Parity.Tolerance:E0}; the artifact in {result.ArtifactDir} is marked as failed in manifest.json. Please report this.");
            return Task.FromResult(1);
        }
        return Task.FromResult(0);
    }

    /// <summary>Prints progress lines as they come (synchronously, unlike System.Progress).</summary>
    private sealed class Progress : IProgress<string>
    {
        public void Report(string value) => Console.WriteLine(value);
    }
}
