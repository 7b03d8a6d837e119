using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SlmStudio.Core;
using SlmStudio.Core.Models;
using SlmStudio.Core.Training;

using static SlmStudio.Cli.CliOptions;
namespace SlmStudio.Cli.Commands;

public sealed class BenchTrainCommand : SlmCommand
{
    private const int DefaultVocabSize = 4096;
    private const int DefaultSteps = 3, BareStepsBesideRun = 10;

    private readonly Option<string?> _presets = Text("--presets", "tiny,small,...", "the presets to measure, separated by commas (default: all)");
    private readonly Option<int?> _vocabSize = Int("--vocab-size", "N", $"vocabulary size of the measured models (default {DefaultVocabSize})", 260, 1_000_000);
    private readonly Option<int?> _steps = Int("--steps", "N", $"training steps measured per preset (default {DefaultSteps})", 1, 1000);
    private readonly Option<string?> _device = Text("--device", "auto|cpu|cuda", "where to train (default auto: the GPU when there is one)");
    private readonly Option<bool> _json = Flag("--json", "print one JSON object instead of a table");
    private readonly Option<bool> _bf16 = Flag("--bf16", "also measure the matrix multiply and each preset's training steps with bfloat16 weights, to see what half-width arithmetic gains on this machine (slm train --precision auto uses it where the processor has bfloat16 instructions)");
    private readonly Option<bool> _memory = Flag("--memory", $"instead: train each preset for real (slm train's own loop on generated English text, evaluations and checkpoints included; --steps default {DefaultMemorySteps}) and report resident memory at the start, after warm-up (the first checkpoint), at its peak and at the end, and the training tokens/s that slm train reports");
    private const int DefaultMemorySteps = 40;
    private readonly Option<bool> _parts = Flag("--parts", $"instead: where a training step's time goes, per preset, in the format slm train uses: the whole forward and backward pass, one layer, the attention inside a layer, and the output layer with its loss (--steps default {DefaultPartRepeats} timed passes each)");
    private const int DefaultPartRepeats = 5;

    public BenchTrainCommand() : base("train", "Measure training speed of every preset against this machine's matrix-multiply speed.", """
        Measures, in one run: the machine's own matrix-multiply FLOP/s (a large torch.mm), then for each preset the
        training tokens/s of real forward/backward/AdamW steps and the ratio of achieved training FLOP/s
        (6 x parameters x tokens / time) to the matrix-multiply figure.

        With --memory each preset instead trains for real through the same loop as slm train (a temporary run
        folder, generated English text, an evaluation and checkpoint every quarter of the steps). Reported per
        preset: resident memory before, after warm-up and at the peak, its growth after warm-up, the live tensor
        count, and the training tokens/s measured as slm train measures it (steps only, evaluations left out)
        next to the bare step speed of the table above. Presets run one after another in one process.

        With --parts each preset's training step is taken apart instead: milliseconds of its forward and backward
        pass, of one decoder layer, of the attention inside a layer (scaled_dot_product_attention on the layer's
        queries, keys and values) and of the output layer with the loss, each timed on its own.
        """)
    {
        foreach (var option in new Option[] { _presets, _vocabSize, _steps, _device, _json, _bf16, _memory, _parts }) Options.Add(option);
    }

    protected override Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var names = (parsed.GetValue(_presets) ?? string.Join(',', ModelPresets.All.Select(p => p.Name))).Split(',', StringSplitOptions.RemoveEmptyEntries);
        var vocab = parsed.GetValue(_vocabSize) ?? DefaultVocabSize;
        var steps = parsed.GetValue(_steps) ?? DefaultSteps;
        var device = TorchDevice.Parse(parsed.GetValue(_device));
        var json = parsed.GetValue(_json);
        var presets = names.Select(ModelPresets.Get).ToList();
        if (parsed.GetValue(_parts)) return Task.FromResult(RunParts(presets, vocab, parsed.GetValue(_steps) ?? DefaultPartRepeats, device, json, cancellationToken));
        if (parsed.GetValue(_memory)) return Task.FromResult(RunMemory(presets, vocab, parsed.GetValue(_steps) ?? DefaultMemorySteps, device, json, cancellationToken));

        var bf16 = parsed.GetValue(_bf16);
        var matmul = ThroughputProbe.MatmulFlops(device);
        double? matmulBf16 = bf16 ? ThroughputProbe.MatmulFlops(device, dtype: TorchSharp.torch.ScalarType.BFloat16) : null;
        if (!json)
        {
            Console.WriteLine($"device: {device.type}, torch threads: {TorchSharp.torch.get_num_threads()}");
            Console.WriteLine($"matrix multiply (2048x2048 fp32 torch.mm): {matmul / 1e9:F1} GFLOP/s");
            if (matmulBf16 is { } m) Console.WriteLine($"matrix multiply (2048x2048 bf16 torch.mm): {m / 1e9:F1} GFLOP/s ({m / matmul:F2}x fp32)");
            Console.WriteLine($"{"preset",-8} {"parameters",12} {"batch x ctx",12} {"tokens/s",10} {"train GFLOP/s",14} {"ratio",6}{(bf16 ? $" {"bf16 tok/s",11} {"bf16/fp32",9}" : "")}");
        }
        var rows = new List<object>();
        foreach (var preset in presets)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var config = preset.ConfigFor(vocab);
            var tps = ThroughputProbe.TrainingTokensPerSecond(config, preset.BatchSize, preset.ContextLength, device, steps, matrixOptimizer: preset.Optimizer);
            var flops = tps * ThroughputProbe.TrainingFlopsPerToken(config);
            double? tpsBf16 = bf16 ? ThroughputProbe.TrainingTokensPerSecond(config, preset.BatchSize, preset.ContextLength, device, steps, TorchSharp.torch.ScalarType.BFloat16, preset.Optimizer) : null;
            rows.Add(new { preset = preset.Name, parameters = config.ParameterCount, batchSize = preset.BatchSize, contextLength = preset.ContextLength, tokensPerSecond = tps, trainingFlops = flops, ratio = flops / matmul, memoryBytes = preset.TrainingMemoryBytes(vocab), bf16TokensPerSecond = tpsBf16 });
            if (!json)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{preset.Name,-8} {config.ParameterCount,12:N0} {preset.BatchSize + "x" + preset.ContextLength,12} {tps,10:N0} {flops / 1e9,14:F1} {flops / matmul,6:F2}{(tpsBf16 is { } b ? $" {b,11:N0} {b / tps,9:F2}" : "")}"));
        }
        if (json) Console.WriteLine(JsonSerializer.Serialize(new { device = device.type.ToString(), matmulFlops = matmul, matmulBf16Flops = matmulBf16, presets = rows }, TrainingEvent.Json));
        return Task.FromResult(0);
    }

    private static int RunMemory(IReadOnlyList<ModelPreset> presets, int vocab, int steps, TorchSharp.torch.Device device, bool json, CancellationToken cancellationToken)
    {
        static double Mb(long bytes) => bytes / 1048576.0;
        var inv = CultureInfo.InvariantCulture;
        var root = Directory.CreateTempSubdirectory("slm-bench-memory-");
        var rows = new List<object>();
        try
        {
            var data = Path.Combine(root.FullName, "text.txt");
            // Enough text for a short run of every preset (memory and speed do not depend on repeats); more would only
            // make the tokenizer, trained afresh for each preset, take longer than the steps.
            File.WriteAllText(data, Bench.EnglishTextGenerator.Generate(400_000));
            if (!json)
            {
                Console.WriteLine($"device: {device.type}, torch threads: {TorchSharp.torch.get_num_threads()}, load average: {LoadAverage()}");
                Console.WriteLine($"{"preset",-8} {"steps",6} {"start MB",9} {"warm MB",9} {"peak MB",9} {"end MB",9} {"growth MB",10} {"tensors",8} {"+tensors",9} {"train tok/s",12} {"step tok/s",11}");
            }
            foreach (var preset in presets)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var runDir = Path.Combine(root.FullName, preset.Name);
                var options = new TrainingOptions
                {
                    DataPath = data, RunDirectory = runDir, Preset = preset.Name, VocabSize = vocab, MaxSteps = steps,
                    EvalEvery = Math.Max(1, steps / 4), LogEvery = 1, Device = device.type.ToString().ToLowerInvariant(),
                };
                var watch = new TrainingMemoryWatch();
                new Trainer(options, watch).Run(resume: false, cancellationToken);
                var config = preset.ConfigFor(vocab);
                // Bare steps in the format the run's steps used (bfloat16 where slm train picks it), over more than the
                // table's few steps: a float32 figure beside a bfloat16 run read as the trainer being slow.
                var stepType = TrainingPrecision.Resolve(options.Precision, device, fromScratch: true, lora: false).Type;
                var bare = ThroughputProbe.TrainingTokensPerSecond(config, preset.BatchSize, preset.ContextLength, device, BareStepsBesideRun, stepType, preset.Optimizer);
                var warm = watch.WarmedUp ?? watch.Last!;
                var trainTps = watch.Finished?.TrainingTokensPerSecond ?? 0;
                rows.Add(new
                {
                    preset = preset.Name, parameters = config.ParameterCount, steps, startBytes = watch.Start.ResidentBytes, warmBytes = warm.ResidentBytes,
                    peakBytes = watch.PeakResidentBytes, endBytes = watch.Last!.ResidentBytes, growthBytes = watch.ResidentGrowthBytes,
                    liveTensors = warm.LiveTensors, liveTensorGrowth = watch.LiveTensorGrowth, managedBytes = watch.Last.ManagedBytes,
                    nativeInUseBytes = watch.Last.NativeInUseBytes, nativeFreeHeldBytes = watch.Last.NativeFreeHeldBytes,
                    trainingTokensPerSecond = trainTps, stepTokensPerSecond = bare, stepPrecision = TrainingPrecision.NameOf(stepType),
                });
                if (!json)
                    Console.WriteLine(string.Create(inv, $"{preset.Name,-8} {steps,6} {Mb(watch.Start.ResidentBytes),9:F0} {Mb(warm.ResidentBytes),9:F0} {Mb(watch.PeakResidentBytes),9:F0} {Mb(watch.Last.ResidentBytes),9:F0} {Mb(watch.ResidentGrowthBytes),10:F1} {warm.LiveTensors,8} {watch.LiveTensorGrowth,9} {trainTps,12:N0} {bare,11:N0}"));
                Directory.Delete(runDir, recursive: true);
            }
        }
        finally
        {
            try { root.Delete(recursive: true); } catch (IOException) { }
        }
        if (json) Console.WriteLine(JsonSerializer.Serialize(new { device = device.type.ToString(), loadAverage = LoadAverage(), presets = rows }, TrainingEvent.Json));
        else Console.WriteLine("growth: the most resident memory rose above its level after warm-up; train tok/s: steps only, as slm train reports it at the end; step tok/s: bare steps on random tokens, in the same format (float32 or bfloat16) as the run's steps.");
        return 0;
    }

    private static int RunParts(IReadOnlyList<ModelPreset> presets, int vocab, int repeats, TorchSharp.torch.Device device, bool json, CancellationToken cancellationToken)
    {
        var stepType = TrainingPrecision.Resolve(TrainingPrecision.Auto, device, fromScratch: true, lora: false).Type;
        var format = TrainingPrecision.NameOf(stepType);
        if (!json)
        {
            Console.WriteLine($"device: {device.type}, torch threads: {TorchSharp.torch.get_num_threads()}, steps in {format}, load average: {LoadAverage()}");
            Console.WriteLine($"{"preset",-8} {"batch x ctx",12} {"step ms",8} {"layers x ms",12} {"attention ms",13} {"output+loss ms",15}");
        }
        var rows = new List<object>();
        foreach (var preset in presets)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var t = StepParts.Measure(preset.ConfigFor(vocab), preset.BatchSize, preset.ContextLength, device, stepType, repeats);
            rows.Add(new
            {
                preset = preset.Name, stepPrecision = format, batchSize = preset.BatchSize, contextLength = preset.ContextLength, stepMs = t.StepMs,
                layers = t.Layers, layerMs = t.LayerMs, attentionMs = t.AttentionMs, attentionShareOfLayer = t.AttentionShareOfLayer, outputMs = t.OutputMs,
            });
            if (!json)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{preset.Name,-8} {preset.BatchSize + "x" + preset.ContextLength,12} {t.StepMs,8:F0} {t.Layers + " x " + t.LayerMs.ToString("F0", CultureInfo.InvariantCulture),12} {t.AttentionMs,6:F0} ({t.AttentionShareOfLayer,4:P0}) {t.OutputMs,15:F0}"));
        }
        if (json) Console.WriteLine(JsonSerializer.Serialize(new { device = device.type.ToString(), loadAverage = LoadAverage(), presets = rows }, TrainingEvent.Json));
        else Console.WriteLine("forward and backward passes, the optimizer left out; attention: inside one layer, its share of the layer in brackets; output+loss: the output layer and the loss. Each part is timed on its own, so the parts need not add up to the step.");
        return 0;
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
}
