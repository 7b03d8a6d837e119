using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Export.Quantization;
using SlmStudio.Core.Training;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Export;

/// <summary>What an export produced: where, how closely ONNX matches TorchSharp, and how long it took.</summary>
public sealed record ExportResult(
    string ArtifactDir,
    ParityReport Parity,
    bool Passed,
    TimeSpan Duration,
    TimeSpan ParityDuration,
    IReadOnlyList<ManifestFile> Files,
    QuantizationReport? Quality = null);

/// <summary>
/// Turns a training run folder (its <c>model/</c> subfolder, plus run.json/result.json for the model card) or a Hugging
/// Face Llama-family folder (config.json, model.safetensors, tokenizer.json) into a self-contained artifact folder:
/// model.onnx, genai_config.json, tokenizer files, config.json + model.safetensors, README.md and manifest.json.
/// The folder is assembled beside the target and moved into place at the end, so a failure leaves nothing behind.
/// </summary>
public static class ModelExporter
{
    public const string OnnxFile = ArtifactManifest.DefaultOnnxModel;

    public static ExportResult Export(string sourceFolder, string artifactDir, IProgress<string>? progress = null, CancellationToken ct = default) =>
        Export(sourceFolder, artifactDir, OnnxModelWriter.DefaultExternalDataThreshold, progress, ct);

    /// <summary>
    /// Exports with the linear layers stored at <paramref name="quantization"/>'s precision. A quantised export is judged by
    /// <see cref="QuantizationQuality"/> against the fp32 model instead of by exact parity; <see cref="ExportResult.Passed"/>
    /// is false (and manifest.json says so) when its loss rises by more than the allowed share.
    /// </summary>
    public static ExportResult Export(string sourceFolder, string artifactDir, QuantizationOptions quantization, IProgress<string>? progress = null, CancellationToken ct = default) =>
        Export(sourceFolder, artifactDir, OnnxModelWriter.DefaultExternalDataThreshold, progress, ct, quantization);

    /// <summary>As <see cref="Export(string, string, IProgress{string}?, CancellationToken)"/>, with the external-data threshold open for tests.</summary>
    public static ExportResult Export(string sourceFolder, string artifactDir, long externalDataThreshold, IProgress<string>? progress = null, CancellationToken ct = default,
        QuantizationOptions? quantization = null)
    {
        if (ClassifierExporter.IsClassifierSource(sourceFolder)) return ClassifierExporter.Export(sourceFolder, artifactDir, progress, ct);
        quantization ??= QuantizationOptions.Fp32;
        var clock = Stopwatch.StartNew();
        var source = ResolveSource(sourceFolder);
        var target = Path.GetFullPath(artifactDir);
        if (File.Exists(target)) throw new EngineException($"{artifactDir} is a file; give a folder for the exported model.");
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
            throw new EngineException($"The folder {artifactDir} already exists and is not empty; choose a new folder (artifacts are never overwritten).");

        progress?.Report($"Reading {source.ModelDir}");
        var config = LlamaConfig.Load(Path.Combine(source.ModelDir, ModelFolder.ConfigFile));
        var weightsPath = Path.Combine(source.ModelDir, ModelFolder.WeightsFile);
        if (!File.Exists(weightsPath))
            throw new EngineException($"{source.ModelDir} has no {ModelFolder.WeightsFile}; a model folder needs config.json, model.safetensors and tokenizer.json.");
        var tokenizerPath = Path.Combine(source.ModelDir, ModelFolder.TokenizerFile);
        if (!File.Exists(tokenizerPath))
            throw new EngineException($"{source.ModelDir} has no {ModelFolder.TokenizerFile}; the exported model would be unusable without its tokenizer.");
        var tokenizer = TokenizerFile.Load(tokenizerPath);
        if (tokenizer.VocabSize > config.VocabSize)
            throw new EngineException($"The tokenizer has {tokenizer.VocabSize} tokens but the model only {config.VocabSize}; tokenizer.json does not belong to this model.");
        var weights = SafetensorsFile.Read(weightsPath);
        ct.ThrowIfCancellationRequested();

        var parent = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, $".{Path.GetFileName(target)}.export-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            progress?.Report($"Building the ONNX graph (opset {LlamaOnnxGraph.Opset}, {config.NumLayers} layers, {config.ParameterCount:N0} parameters, {quantization.Precision.Name()} weights)");
            var files = new List<string>(OnnxModelWriter.Write(
                LlamaOnnxGraph.Build(config, weights, typeof(ModelExporter).Assembly.GetName().Version?.ToString() ?? "1", quantization),
                Path.Combine(staging, OnnxFile), externalDataThreshold));
            ct.ThrowIfCancellationRequested();

            File.Copy(Path.Combine(source.ModelDir, ModelFolder.ConfigFile), Path.Combine(staging, ModelFolder.ConfigFile));
            File.Copy(weightsPath, Path.Combine(staging, ModelFolder.WeightsFile));
            File.Copy(tokenizerPath, Path.Combine(staging, ModelFolder.TokenizerFile));
            // The source's tokenizer_config.json when it has one; else one naming the special tokens and whether the
            // beginning-of-text token is added, which Hugging Face's AutoTokenizer and onnxruntime-genai's tokenizer read.
            var tokenizerConfig = Path.Combine(source.ModelDir, "tokenizer_config.json");
            if (File.Exists(tokenizerConfig)) File.Copy(tokenizerConfig, Path.Combine(staging, "tokenizer_config.json"));
            else tokenizer.SaveTokenizerConfig(Path.Combine(staging, "tokenizer_config.json"), config.MaxPositions);
            var isChat = Instruction.ChatExport.IsChatRun(source.Run);
            var endOfTurn = isChat ? Instruction.ChatExport.EndOfTurnIds(staging, tokenizer) : [];
            File.WriteAllText(Path.Combine(staging, GenaiConfig.FileName), GenaiConfig.ToJson(config, OnnxFile, endOfTurn));
            files.AddRange([ModelFolder.ConfigFile, ModelFolder.WeightsFile, ModelFolder.TokenizerFile, "tokenizer_config.json", GenaiConfig.FileName]);
            var adapterFiles = CopyAdapter(source.ModelDir, staging);
            files.AddRange(adapterFiles);
            var baseModel = source.Kind == "run" ? Library.BaseModelLineage.Read(RunFolder.At(sourceFolder).BaseModelFile) : null;

            progress?.Report("Checking parity: ONNX Runtime against TorchSharp (prefill and KV-cache decoding)");
            var parityClock = Stopwatch.StartNew();
            ParityReport parity;
            QuantizationReport? quality = null;
            using (var model = new LlamaForCausalLM(config))
            {
                ModelFolder.LoadWeights(model, weights, ModelFolder.WeightsFile);
                using var decoder = File.Exists(Path.Combine(staging, OnnxFile + ".data"))
                    ? OnnxDecoder.Load(Path.Combine(staging, OnnxFile), config)
                    : OnnxDecoder.Load(File.ReadAllBytes(Path.Combine(staging, OnnxFile)), config, OnnxFile);
                parity = OnnxParity.Check(model, decoder, ct: ct);
                if (quantization.IsQuantized)
                {
                    var (sequences, text) = QualityText(sourceFolder, source, model, config);
                    progress?.Report($"Checking the quality of the {quantization.Precision.Name()} weights against fp32 on {text}");
                    quality = QuantizationQuality.Measure(model, decoder, quantization, sequences, text, ct: ct);
                }
            }
            parityClock.Stop();
            if (quality is not null)
                progress?.Report(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"Quality {(quality.Passed ? "check passed" : "check FAILED")}: loss {quality.Fp32Loss:F4} (fp32) -> {quality.QuantizedLoss:F4} ({quality.Precision}), {Math.Round(quality.LossIncreasePercent, 2) + 0.0:+0.00;-0.00}% (allowed {quality.MaxLossIncreasePercent:0.#}%); same top token {quality.Top1Agreement:P1}; greedy {quality.GreedyIdenticalTokens}/{quality.GreedyTokens} tokens identical"));
            else progress?.Report(parity.Passed
                ? $"Parity passed: max abs logit difference {parity.PrefillMaxAbsDiff:E2} (prefill), {parity.DecodeMaxAbsDiff:E2} (decode) <= {parity.Tolerance:E0}"
                : $"Parity FAILED: max abs logit difference {parity.PrefillMaxAbsDiff:E2} (prefill), {parity.DecodeMaxAbsDiff:E2} (decode) > {parity.Tolerance:E0}");

            var metrics = source.Result is null ? null : ReadMetrics(source.Result);
            var manifestSource = new ArtifactSource(source.Kind, Path.GetFullPath(sourceFolder), ReadString(source.Run, "preset"), ReadString(source.Run?["options"] as JsonObject, "dataPath"));
            File.WriteAllText(Path.Combine(staging, "README.md"), ModelCard.Write(config, parity, manifestSource, source.Run, metrics, Path.GetFileName(target),
                tokenizer.BosId is { } bos && tokenizer.Encode("a", addSpecialTokens: true).FirstOrDefault(-1) == bos ? bos : null, quality,
                baseModel: baseModel, adapter: adapterFiles.Count > 0 ? LoraAdapters.FolderName : null)
                + (isChat ? Instruction.ChatExport.CardSection(Path.GetFileName(target), endOfTurn) : ""));
            files.Add("README.md");

            var manifest = new ArtifactManifest
            {
                CreatedUtc = DateTimeOffset.UtcNow,
                Task = isChat ? Instruction.InstructionRunFolder.Task : null,
                Opset = LlamaOnnxGraph.Opset,
                OnnxModel = OnnxFile,
                Parameters = config.ParameterCount,
                ContextLength = source.Run?["contextLength"] is JsonValue cl && cl.TryGetValue<int>(out var c) ? c : null,
                Source = manifestSource,
                Metrics = metrics,
                Parity = parity,
                Precision = quantization.Precision.Name(),
                Quantization = quality,
                BaseModel = baseModel,
                Adapter = adapterFiles.Count > 0 ? LoraAdapters.FolderName : null,
                Files = ArtifactManifest.Describe(staging, files),
            };
            manifest.Save(staging);
            ct.ThrowIfCancellationRequested();

            if (Directory.Exists(target)) Directory.Delete(target); // empty, checked above
            Directory.Move(staging, target);
            clock.Stop();
            progress?.Report($"Exported to {target} in {clock.Elapsed.TotalSeconds:F1} s");
            return new ExportResult(target, parity, quality?.Passed ?? parity.Passed, clock.Elapsed, parityClock.Elapsed, manifest.Files, quality);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    private sealed record Source(string Kind, string ModelDir, JsonObject? Run, JsonObject? Result);

    /// <summary>
    /// Copies a LoRA run's PEFT adapter folder into the artifact, so the adapter can be used with the original base
    /// model elsewhere (the artifact's own weights have it merged in); returns the copied files' relative paths.
    /// </summary>
    private static IReadOnlyList<string> CopyAdapter(string modelDir, string staging)
    {
        var adapterDir = Path.Combine(modelDir, LoraAdapters.FolderName);
        string[] names = [LoraAdapters.AdapterConfigFile, LoraAdapters.AdapterWeightsFile];
        if (!names.All(n => File.Exists(Path.Combine(adapterDir, n)))) return [];
        Directory.CreateDirectory(Path.Combine(staging, LoraAdapters.FolderName));
        foreach (var n in names) File.Copy(Path.Combine(adapterDir, n), Path.Combine(staging, LoraAdapters.FolderName, n));
        return names.Select(n => $"{LoraAdapters.FolderName}/{n}").ToList();
    }

    /// <summary>Tokens for the quantisation check: windows of the run's validation data, else text the fp32 model writes itself.</summary>
    private static (IReadOnlyList<long[]> Sequences, string Description) QualityText(string sourceFolder, Source source, LlamaForCausalLM model, LlamaConfig config)
    {
        int length = Math.Min(128, config.MaxPositions);
        var valBin = RunFolder.At(sourceFolder).ValidationTokensFile;
        if (source.Kind == "run" && File.Exists(valBin))
        {
            var windows = QuantizationQuality.ValidationWindows(valBin, config.VocabSize, length, 8);
            if (windows.Count > 0) return (windows, QuantizationQuality.ValidationText);
        }
        var start = config.BosTokenId ?? config.EosTokenId ?? 0;
        return (QuantizationQuality.SampledFrom(model, start, length, 4), QuantizationQuality.SampledText);
    }

    private static Source ResolveSource(string folder)
    {
        if (!Directory.Exists(folder)) throw new EngineException($"The folder {folder} does not exist; give a training run folder or a Hugging Face model folder.");
        var run = RunFolder.At(folder);
        if (File.Exists(Path.Combine(run.ModelDirectory, ModelFolder.ConfigFile)))
            return new Source("run", run.ModelDirectory, ReadJson(run.SettingsFile), ReadJson(run.ResultFile));
        if (File.Exists(Path.Combine(folder, ModelFolder.ConfigFile)))
            return new Source("huggingface", folder, null, null);
        if (File.Exists(run.SettingsFile))
            throw new EngineException($"{folder} is a training run without a finished model (no model/config.json yet); wait until training has saved a model, then export.");
        throw new EngineException($"{folder} is neither a training run folder (with model/) nor a Hugging Face model folder (config.json, model.safetensors, tokenizer.json).");
    }

    private static JsonObject? ReadJson(string path)
    {
        if (!File.Exists(path)) return null;
        try { return JsonNode.Parse(File.ReadAllText(path)) as JsonObject; }
        catch (JsonException) { return null; } // the model card then simply lacks those details
    }

    private static string? ReadString(JsonObject? o, string name) =>
        o?[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static Dictionary<string, double>? ReadMetrics(JsonObject result)
    {
        var metrics = new Dictionary<string, double>();
        foreach (var name in new[] { "bestValLoss", "valLoss", "perplexity", "bitsPerChar", "step" })
            if (result[name] is JsonValue v && v.TryGetValue<double>(out var d)) metrics[name] = d;
        return metrics.Count > 0 ? metrics : null;
    }
}
