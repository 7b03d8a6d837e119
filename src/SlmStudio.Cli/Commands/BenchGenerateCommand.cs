using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SlmStudio.Core;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Export;
using SlmStudio.Core.Export.Quantization;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;

using static SlmStudio.Cli.CliOptions;
namespace SlmStudio.Cli.Commands;

public sealed class BenchGenerateCommand : SlmCommand
{
    private const string DefaultPreset = "small";
    private const int DefaultVocabSize = 4096;
    private const int DefaultPromptTokens = 64;
    private const int DefaultNewTokens = 128;
    private const int DefaultRepeats = 3;

    private readonly Option<string?> _preset = Text("--preset", "name", $"measure a randomly initialised model of this preset (default {DefaultPreset})");
    private readonly Option<string?> _model = Text("--model", "model folder", "measure this Hugging Face or run model folder instead");
    private readonly Option<int?> _vocabSize = Int("--vocab-size", "N", $"vocabulary size of the preset's model (default {DefaultVocabSize})", BpeTrainer.MinimumVocabSize, 1_000_000);
    private readonly Option<int?> _promptTokens = Int("--prompt-tokens", "N", $"prompt length in tokens (default {DefaultPromptTokens})", 1, 100_000);
    private readonly Option<int?> _newTokens = Int("--new-tokens", "N", $"tokens generated per run (default {DefaultNewTokens})", 2, 100_000);
    private readonly Option<int?> _repeats = Int("--repeats", "N", $"runs per engine; medians are reported (default {DefaultRepeats})", 1, 100);
    private readonly Option<int?> _ortThreads = Int("--ort-threads", "N", "ONNX Runtime's intra-op threads (default: 1 below 50M parameters, else one per core)", 1, 1024);
    private readonly Option<int?> _torchThreads = Int("--torch-threads", "N", "TorchSharp's threads (default: TorchSharp's own, one per core)", 1, 1024);
    private readonly Option<bool> _json = Flag("--json", "print one JSON object instead of a table");
    private readonly Option<string?> _precision = Text("--precision", "list", "weight precisions to export and compare, comma-separated: fp32,int8,int4 (default fp32)");
    private readonly Option<string?> _concurrent = Text("--concurrent", "list", "also measure this many generations at once, comma-separated (such as 2,4,8): each on its own, one batch, and as served");

    public BenchGenerateCommand() : base("generate", "Measure generation speed: ONNX Runtime against TorchSharp eager, plus export time.", """
        In one run on the same model (a randomly initialised preset, or --model, a Hugging Face / run model folder):
        exports it to ONNX (export time, parity), then measures greedy generation with a KV cache on the CPU:
        prefill tokens/s, decode tokens/s and time to first token, for ONNX Runtime and for TorchSharp eager with its
        own KV cache, and the ONNX/TorchSharp ratio. The engines alternate, each run after a warm-up.
        Targets: ONNX decode >= 2x TorchSharp on Small, first token < 100 ms for a 64-token prompt, export < 5 s.
        With --precision fp32,int8,int4 the model is exported once per precision and every ONNX model is measured in
        the same rounds, with its file size and its loss change versus fp32 (on the run's validation data when --model
        is a training run folder with data, else on text sampled from the fp32 model, which the output says).
        Target: int4 decode >= 2x fp32 decode. --json prints one object whose "results" array holds
        {engine, precision, decodeTokensPerSecond, prefillTokensPerSecond, firstTokenMs, sizeBytes} per engine and precision.
        With --concurrent 2,4,8 it also starts that many greedy generations of the prompt at once on the first ONNX
        model (fp32 when measured) and reports new tokens/s of all together, run each on its own side by side, as one
        fixed batch, and as the portal serves them (continuous batching, a batch per lane); --json adds a
        "concurrency" array of {requests, separateTokensPerSecond, batchedTokensPerSecond, servedTokensPerSecond}.
        """)
    {
        foreach (var option in new Option[] { _preset, _model, _vocabSize, _promptTokens, _newTokens, _repeats, _ortThreads, _torchThreads, _json, _precision, _concurrent })
            Options.Add(option);
    }

    /// <summary>The ONNX model file and its external data, if any: what ONNX Runtime reads.</summary>
    private static long OnnxBytes(ExportResult export) =>
        export.Files.Where(f => f.Path == ModelExporter.OnnxFile || f.Path == ModelExporter.OnnxFile + ".data").Sum(f => f.Bytes);

    private static IReadOnlyList<int> ParseCounts(string? list)
    {
        if (string.IsNullOrWhiteSpace(list)) return [];
        var counts = new List<int>();
        foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1 || n > 64)
                throw new UsageException($"--concurrent: '{part}' is not a number of generations from 1 to 64. Give a list such as 2,4,8.");
            counts.Add(n);
        }
        return counts;
    }

    private static string? LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : null;

    protected override Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var presetName = parsed.GetValue(_preset) ?? DefaultPreset;
        var modelArg = parsed.GetValue(_model);
        var vocab = parsed.GetValue(_vocabSize) ?? DefaultVocabSize;
        var promptTokens = parsed.GetValue(_promptTokens) ?? DefaultPromptTokens;
        var newTokens = parsed.GetValue(_newTokens) ?? DefaultNewTokens;
        var repeats = parsed.GetValue(_repeats) ?? DefaultRepeats;
        var ortThreads = parsed.GetValue(_ortThreads);
        var torchThreads = parsed.GetValue(_torchThreads);
        var json = parsed.GetValue(_json);
        IReadOnlyList<WeightPrecision> precisions;
        try { precisions = WeightPrecisions.ParseList(parsed.GetValue(_precision) ?? "fp32"); }
        catch (EngineException e) { throw new UsageException("--precision: " + e.Message); }
        if (torchThreads is { } tt) TorchSharp.torch.set_num_threads(tt);
        var concurrent = ParseCounts(parsed.GetValue(_concurrent));

        var work = Path.Combine(Path.GetTempPath(), $"slm-bench-generate-{Guid.NewGuid():N}");
        try
        {
            string modelDir;
            if (modelArg is not null)
            {
                modelDir = Directory.Exists(Path.Combine(modelArg, "model")) ? Path.Combine(modelArg, "model") : modelArg;
                presetName = Path.GetFileName(Path.GetFullPath(modelArg));
            }
            else
            {
                // Random weights of the preset's shape with a small real tokenizer: speed depends on the shape only.
                var preset = ModelPresets.Get(presetName);
                modelDir = Path.Combine(work, "model");
                var tokenizer = new BpeTrainer(BpeTrainer.MinimumVocabSize + 64).Train(
                    string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. Invoices are due within thirty days. ", 50)), cancellationToken);
                var config = preset.ConfigFor(vocab, tokenizer.BosId, tokenizer.EosId, tokenizer.PadId);
                using var model = new LlamaForCausalLM(config);
                model.InitializeWeights(1);
                ModelFolder.Save(model, tokenizer, modelDir);
            }

            // Every precision is exported from the same source (a training run folder keeps its validation data in reach).
            var exportSource = modelArg is not null && Directory.Exists(Path.Combine(modelArg, "model")) ? modelArg : modelDir;
            var exports = new List<(WeightPrecision Precision, ExportResult Export)>();
            foreach (var precision in precisions)
                exports.Add((precision, ModelExporter.Export(exportSource, Path.Combine(work, "artifact-" + precision.Name()), QuantizationOptions.For(precision), progress: null, cancellationToken)));
            var artifacts = exports.Select(e => OnnxArtifact.Open(e.Export.ArtifactDir, TokenizerFile.Load, ortThreads)).ToList();
            try
            {
                var (torchModel, cfg) = ModelFolder.Load(modelDir);
                using (torchModel)
                {
                    if (promptTokens + newTokens > cfg.MaxPositions)
                        throw new UsageException($"--prompt-tokens + --new-tokens ({promptTokens + newTokens}) exceeds the model's context length ({cfg.MaxPositions}).");
                    var random = new Random(5);
                    var prompt = Enumerable.Range(0, promptTokens).Select(_ => random.Next(cfg.VocabSize)).ToArray();
                    // Alternate the engines (and precisions) so that all see the same machine load.
                    var ortRuns = artifacts.Select(_ => new List<GenerationSpeed>()).ToList();
                    var torchRuns = new List<GenerationSpeed>();
                    for (int r = 0; r < repeats; r++)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        for (int i = 0; i < artifacts.Count; i++) ortRuns[i].Add(GenerationBenchmark.MeasureOnnx(artifacts[i], prompt, newTokens, repeats: 1));
                        torchRuns.Add(GenerationBenchmark.MeasureTorch(torchModel, prompt, newTokens, repeats: 1));
                    }
                    var orts = ortRuns.Select(GenerationBenchmark.Median).ToList();
                    var torch = GenerationBenchmark.Median(torchRuns);
                    var results = exports.Select((e, i) => GenerationBenchResult.From(orts[i], GenerationBenchmark.OnnxRuntimeEngine, e.Precision.Name(), OnnxBytes(e.Export), e.Export.Quality)).ToList();
                    results.Add(GenerationBenchResult.From(torch, GenerationBenchmark.TorchSharpEngine, "fp32", new FileInfo(Path.Combine(modelDir, ModelFolder.WeightsFile)).Length));
                    // The table's and JSON's historical ONNX figures are fp32's when it was measured, else the first precision's.
                    int main = Math.Max(0, exports.FindIndex(e => e.Precision == WeightPrecision.Fp32));
                    var ort = orts[main];
                    var export = exports[main].Export;
                    var fp32Result = exports.FindIndex(e => e.Precision == WeightPrecision.Fp32) is var f && f >= 0 ? results[f] : null;
                    var decodeRatio = ort.DecodeTokensPerSecond / torch.DecodeTokensPerSecond;
                    var prefillRatio = ort.PrefillTokensPerSecond / torch.PrefillTokensPerSecond;
                    var evaluationText = exports.Select(e => e.Export.Quality?.EvaluationText).FirstOrDefault(t => t is not null);
                    var concurrency = concurrent.Select(n => GenerationBenchmark.MeasureConcurrent(artifacts[main], prompt, newTokens, n, repeats)).ToList();
                    if (json)
                    {
                        Console.WriteLine(JsonSerializer.Serialize(new
                        {
                            model = presetName, parameters = cfg.ParameterCount, vocabSize = cfg.VocabSize, cpuThreads = Environment.ProcessorCount,
                            ortIntraOpThreads = ortThreads ?? (cfg.ParameterCount < OnnxDecoder.SingleThreadBelowParameters ? 1 : Environment.ProcessorCount),
                            torchThreads = TorchSharp.torch.get_num_threads(), loadAverage = LoadAverage(),
                            exportSeconds = export.Duration.TotalSeconds, parityCheckSeconds = export.ParityDuration.TotalSeconds,
                            parityPrefillMaxAbsDiff = export.Parity.PrefillMaxAbsDiff, parityDecodeMaxAbsDiff = export.Parity.DecodeMaxAbsDiff,
                            onnx = ort, torchSharp = torch, decodeRatio, prefillRatio,
                            promptTokens, newTokens, repeats,
                            lossMeasuredOn = evaluationText,
                            results,
                            concurrency = concurrency.Count > 0 ? concurrency : null,
                        }, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
                        return Task.FromResult(0);
                    }
                    var inv = CultureInfo.InvariantCulture;
                    Console.WriteLine(string.Create(inv, $"model: {presetName}, {cfg.ParameterCount:N0} parameters, vocabulary {cfg.VocabSize}; CPU: {Environment.ProcessorCount} cores, load average {LoadAverage() ?? "n/a"}"));
                    Console.WriteLine(string.Create(inv, $"threads: ONNX Runtime intra-op {ortThreads ?? (cfg.ParameterCount < OnnxDecoder.SingleThreadBelowParameters ? 1 : Environment.ProcessorCount)}, TorchSharp {TorchSharp.torch.get_num_threads()}"));
                    foreach (var (precision, e) in exports)
                        Console.WriteLine(string.Create(inv, $"export {precision.Name()}: {e.Duration.TotalSeconds:F2} s (parity check {e.ParityDuration.TotalSeconds:F2} s; max abs diff prefill {e.Parity.PrefillMaxAbsDiff:E1}, decode {e.Parity.DecodeMaxAbsDiff:E1})"));
                    Console.WriteLine(string.Create(inv, $"greedy, {promptTokens}-token prompt, {newTokens} new tokens, median of {repeats}:"));
                    if (exports.Count == 1 && exports[0].Precision == WeightPrecision.Fp32)
                    {
                        Console.WriteLine($"{"engine",-18} {"prefill tok/s",14} {"decode tok/s",13} {"first token ms",15}");
                        foreach (var s in new[] { ort, torch })
                            Console.WriteLine(string.Create(inv, $"{s.Engine,-18} {s.PrefillTokensPerSecond,14:N0} {s.DecodeTokensPerSecond,13:N0} {s.TimeToFirstTokenMs,15:F1}"));
                    }
                    else
                    {
                        Console.WriteLine($"{"engine",-12} {"precision",-9} {"prefill tok/s",14} {"decode tok/s",13} {"first token ms",15} {"size bytes",14} {"loss vs fp32",13} {"decode vs fp32",15}");
                        foreach (var row in results)
                        {
                            var loss = row.LossChangePercent is { } l ? string.Create(inv, $"{Math.Round(l, 2) + 0.0:+0.00;-0.00}%") : row.Precision == "fp32" ? "-" : "n/a";
                            var speedup = fp32Result is null ? "n/a" : string.Create(inv, $"{row.DecodeTokensPerSecond / fp32Result.DecodeTokensPerSecond:F2}x");
                            Console.WriteLine(string.Create(inv, $"{row.Engine,-12} {row.Precision,-9} {row.PrefillTokensPerSecond,14:N0} {row.DecodeTokensPerSecond,13:N0} {row.FirstTokenMs,15:F1} {row.SizeBytes,14:N0} {loss,13} {speedup,15}"));
                        }
                        Console.WriteLine(evaluationText == QuantizationQuality.ValidationText
                            ? "loss vs fp32: teacher-forced loss on the run's validation data."
                            : evaluationText is null ? "" : "loss vs fp32: no validation data here, so measured on text sampled from the fp32 model (pass a training run folder with --model for validation data).");
                        Console.WriteLine("size bytes: the ONNX model file(s) for onnxruntime, model.safetensors for torchsharp.");
                        var int4 = exports.FindIndex(e => e.Precision == WeightPrecision.Int4);
                        if (int4 >= 0 && fp32Result is not null)
                        {
                            var ratio = results[int4].DecodeTokensPerSecond / fp32Result.DecodeTokensPerSecond;
                            Console.WriteLine(string.Create(inv, $"target: int4 decode >= 2x fp32 decode {(ratio >= 2 ? "met" : "NOT met")} ({ratio:F2}x)"));
                        }
                    }
                    if (concurrency.Count > 0)
                    {
                        Console.WriteLine(string.Create(inv, $"generations at once ({exports[main].Precision.Name()}, prefill included, new tokens/s of all together):"));
                        Console.WriteLine($"{"requests",8} {"each on its own",16} {"one batch",10} {"as served",10} {"served vs own",14}");
                        foreach (var c in concurrency)
                            Console.WriteLine(string.Create(inv, $"{c.Requests,8} {c.SeparateTokensPerSecond,16:N0} {c.BatchedTokensPerSecond,10:N0} {c.ServedTokensPerSecond,10:N0} {c.ServedTokensPerSecond / c.SeparateTokensPerSecond,13:F2}x"));
                        Console.WriteLine("each on its own: side by side on worker threads; one batch: one decoder call a step; as served: continuous batching, a batch per lane (the portal, the API, slm generate).");
                    }
                    Console.WriteLine(string.Create(inv, $"ratio ONNX ({exports[main].Precision.Name()})/TorchSharp: decode {decodeRatio:F2}x, prefill {prefillRatio:F2}x"));
                    Console.WriteLine(string.Create(inv, $"targets: decode >= 2x {(decodeRatio >= 2 ? "met" : "NOT met")}; first token < 100 ms {(ort.TimeToFirstTokenMs < 100 ? "met" : "NOT met")}; export < 5 s {(export.Duration.TotalSeconds < 5 ? "met" : "NOT met")}"));
                }
            }
            finally
            {
                foreach (var a in artifacts) a.Dispose();
            }
            return Task.FromResult(0);
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
    }
}
