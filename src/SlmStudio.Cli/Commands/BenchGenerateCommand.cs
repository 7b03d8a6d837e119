using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SlmStudio.Core;
using SlmStudio.Core.Export;
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

    public BenchGenerateCommand() : base("generate", "Measure generation speed: ONNX Runtime against TorchSharp eager, plus export time.", """
        In one run on the same model (a randomly initialised preset, or --model, a Hugging Face / run model folder):
        exports it to ONNX (export time, parity), then measures greedy generation with a KV cache on the CPU:
        prefill tokens/s, decode tokens/s and time to first token, for ONNX Runtime and for TorchSharp eager with its
        own KV cache, and the ONNX/TorchSharp ratio. The engines alternate, each run after a warm-up.
        Targets: ONNX decode >= 2x TorchSharp on Small, first token < 100 ms for a 64-token prompt, export < 5 s.
        """)
    {
        foreach (var option in new Option[] { _preset, _model, _vocabSize, _promptTokens, _newTokens, _repeats, _ortThreads, _torchThreads, _json })
            Options.Add(option);
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
        if (torchThreads is { } tt) TorchSharp.torch.set_num_threads(tt);

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

            var export = ModelExporter.Export(modelDir, Path.Combine(work, "artifact"), progress: null, cancellationToken);
            using var artifact = OnnxArtifact.Open(export.ArtifactDir, TokenizerFile.Load, ortThreads);
            var (torchModel, cfg) = ModelFolder.Load(modelDir);
            using (torchModel)
            {
                if (promptTokens + newTokens > cfg.MaxPositions)
                    throw new UsageException($"--prompt-tokens + --new-tokens ({promptTokens + newTokens}) exceeds the model's context length ({cfg.MaxPositions}).");
                var random = new Random(5);
                var prompt = Enumerable.Range(0, promptTokens).Select(_ => random.Next(cfg.VocabSize)).ToArray();
                // Alternate the engines so that both see the same machine load.
                var ortRuns = new List<GenerationSpeed>();
                var torchRuns = new List<GenerationSpeed>();
                for (int r = 0; r < repeats; r++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    ortRuns.Add(GenerationBenchmark.MeasureOnnx(artifact, prompt, newTokens, repeats: 1));
                    torchRuns.Add(GenerationBenchmark.MeasureTorch(torchModel, prompt, newTokens, repeats: 1));
                }
                var ort = GenerationBenchmark.Median(ortRuns);
                var torch = GenerationBenchmark.Median(torchRuns);
                var decodeRatio = ort.DecodeTokensPerSecond / torch.DecodeTokensPerSecond;
                var prefillRatio = ort.PrefillTokensPerSecond / torch.PrefillTokensPerSecond;
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
                    }, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
                    return Task.FromResult(0);
                }
                var inv = CultureInfo.InvariantCulture;
                Console.WriteLine(string.Create(inv, $"model: {presetName}, {cfg.ParameterCount:N0} parameters, vocabulary {cfg.VocabSize}; CPU: {Environment.ProcessorCount} cores, load average {LoadAverage() ?? "n/a"}"));
                Console.WriteLine(string.Create(inv, $"threads: ONNX Runtime intra-op {ortThreads ?? (cfg.ParameterCount < OnnxDecoder.SingleThreadBelowParameters ? 1 : Environment.ProcessorCount)}, TorchSharp {TorchSharp.torch.get_num_threads()}"));
                Console.WriteLine(string.Create(inv, $"export: {export.Duration.TotalSeconds:F2} s (parity check {export.ParityDuration.TotalSeconds:F2} s; max abs diff prefill {export.Parity.PrefillMaxAbsDiff:E1}, decode {export.Parity.DecodeMaxAbsDiff:E1})"));
                Console.WriteLine(string.Create(inv, $"greedy, {promptTokens}-token prompt, {newTokens} new tokens, median of {repeats}:"));
                Console.WriteLine($"{"engine",-18} {"prefill tok/s",14} {"decode tok/s",13} {"first token ms",15}");
                foreach (var s in new[] { ort, torch })
                    Console.WriteLine(string.Create(inv, $"{s.Engine,-18} {s.PrefillTokensPerSecond,14:N0} {s.DecodeTokensPerSecond,13:N0} {s.TimeToFirstTokenMs,15:F1}"));
                Console.WriteLine(string.Create(inv, $"ratio ONNX/TorchSharp: decode {decodeRatio:F2}x, prefill {prefillRatio:F2}x"));
                Console.WriteLine(string.Create(inv, $"targets: decode >= 2x {(decodeRatio >= 2 ? "met" : "NOT met")}; first token < 100 ms {(ort.TimeToFirstTokenMs < 100 ? "met" : "NOT met")}; export < 5 s {(export.Duration.TotalSeconds < 5 ? "met" : "NOT met")}"));
            }
            return Task.FromResult(0);
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
    }
}
