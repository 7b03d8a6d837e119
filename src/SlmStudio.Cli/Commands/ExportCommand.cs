using System.CommandLine;
using System.Globalization;
using SlmStudio.Core.Export;
using SlmStudio.Core.Export.Quantization;
using static SlmStudio.Cli.CliOptions;

namespace SlmStudio.Cli.Commands;

public sealed class ExportCommand : SlmCommand
{
    private readonly Argument<string?> _source = OptionalArgument("run folder | Hugging Face model folder", "the trained run, or a Hugging Face Llama-family model folder");
    private readonly Option<string?> _out = Text("--out", "artifact folder", "where to write the artifact; it must not exist or be empty", required: true);
    private readonly Option<bool> _stopWithParent = Flag(SlmStudio.Core.Processes.SlmLauncher.StopWithParentOption, "stop (leaving no artifact folder) when standard input closes: the portal's pipe, closed by the system when the portal ends");
    private readonly Option<string?> _precision = Choice("--precision", "weights of the linear layers: fp32 (default, exact), int8 or int4 (smaller and faster, checked against fp32)", "fp32", "int8", "int4");

    public ExportCommand() : base("export", "Export a trained model or classifier (or a Hugging Face Llama folder) to a self-contained ONNX artifact folder.", """
        Writes model.onnx (decoder with KV cache, onnxruntime-genai layout), genai_config.json, tokenizer.json,
        tokenizer_config.json, config.json + model.safetensors (Hugging Face format), a model card README.md and
        manifest.json (SHA-256 and size of every file, parity figures). Checks that ONNX Runtime reproduces the
        TorchSharp model's logits within 1e-4; exit code 1 if it does not. The output folder must not exist or be empty.
        --precision int8|int4 stores the linear layers' weights in 8 or 4 bits (blocks of 32 weights with a scale and zero
        point each, ONNX Runtime's MatMulNBits operator); the export is then checked against the fp32 model instead:
        loss on the run's validation data (or on text the fp32 model writes, when there is none), same-next-token
        agreement and greedy continuations. Exit code 1 when the loss rises by more than 1% (int8) or 5% (int4).

        A classification run (slm train --task classify) exports as a classifier: model.onnx with inputs
        input_ids and attention_mask (int64 [batch, sequence], right padding) and output probabilities
        (float [batch, labels]), labels.json, the tokenizer, a model card and manifest.json (task "classify");
        parity: probabilities within 1e-4 of TorchSharp on single texts and a padded batch.
        """)
    {
        Arguments.Add(_source);
        Options.Add(_out);
        Options.Add(_precision);
        Options.Add(_stopWithParent);
    }

    protected override Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var source = parsed.GetValue(_source) ?? throw new UsageException("Give the run folder or model folder to export.");
        var precision = WeightPrecisions.Parse(parsed.GetValue(_precision) ?? "fp32");
        var parentGone = parsed.GetValue(_stopWithParent) ? SlmStudio.Core.Processes.ParentWatch.WhenStandardInputCloses() : CancellationToken.None;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, parentGone);
        ExportResult result;
        try { result = ModelExporter.Export(source, parsed.GetValue(_out)!, QuantizationOptions.For(precision), new Progress(), stop.Token); }
        catch (OperationCanceledException) when (parentGone.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            Console.Error.WriteLine("Stopped: the program that started this export has ended. No artifact folder was written.");
            return Task.FromResult(SlmStudio.Core.Processes.SlmLauncher.CancelledExitCode);
        }
        var inv = CultureInfo.InvariantCulture;
        var isClassifier = SlmStudio.Core.Inference.OnnxClassifier.IsClassifierArtifact(result.ArtifactDir);
        if (isClassifier)
            Console.WriteLine(string.Create(inv, $"parity: probabilities max abs diff {result.Parity.PrefillMaxAbsDiff:E2} (tolerance {result.Parity.Tolerance:E0}), top labels {(result.Parity.GreedyMatches ? "identical" : "DIFFER")}"));
        else if (result.Quality is { } q)
        {
            Console.WriteLine(string.Create(inv, $"precision: {q.Precision} ({q.Operator}, {q.Bits}-bit blocks of {q.BlockSize}); logits differ from fp32 by {q.MeanAbsLogitDiff:E2} on average (max {Math.Max(result.Parity.PrefillMaxAbsDiff, result.Parity.DecodeMaxAbsDiff):E2})"));
            Console.WriteLine(string.Create(inv, $"quality on {q.EvaluationText}, {q.Tokens:N0} tokens: loss {q.Fp32Loss:F4} (fp32) -> {q.QuantizedLoss:F4} ({Math.Round(q.LossIncreasePercent, 2) + 0.0:+0.00;-0.00}%, allowed {q.MaxLossIncreasePercent:0.#}%), same next token {q.Top1Agreement:P1}, greedy {q.GreedyIdenticalTokens}/{q.GreedyTokens} identical"));
        }
        else
            Console.WriteLine(string.Create(inv, $"parity: prefill max abs diff {result.Parity.PrefillMaxAbsDiff:E2}, decode {result.Parity.DecodeMaxAbsDiff:E2} (tolerance {result.Parity.Tolerance:E0}), greedy {(result.Parity.GreedyMatches ? "identical" : "DIFFERS")}"));
        foreach (var f in result.Files) Console.WriteLine(string.Create(inv, $"  {f.Path,-24} {f.Bytes,14:N0} bytes  sha256 {f.Sha256}"));
        Console.WriteLine(string.Create(inv, $"export time: {result.Duration.TotalSeconds:F2} s (of which parity check {result.ParityDuration.TotalSeconds:F2} s)"));
        if (result.Quality is { Passed: false } failed)
        {
            Console.Error.WriteLine(string.Create(inv, $"error: the {failed.Precision} model's loss is {failed.LossIncreasePercent:F1}% higher than fp32's, more than the {failed.MaxLossIncreasePercent:0.#}% allowed; the artifact in {result.ArtifactDir} is marked as failed in manifest.json. Export with --precision int8 or fp32 instead."));
            return Task.FromResult(1);
        }
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
