using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using SlmStudio.Core.Models;

namespace SlmStudio.Core.Artifacts;

// The contract between the exporter (which writes artifact folders) and everything that reads them (inference, the
// registry): it sits below both so that neither has to know the other.

/// <summary>One file of an artifact folder with its SHA-256 (lower-case hex) and size.</summary>
public sealed record ManifestFile(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("bytes")] long Bytes);

/// <summary>One parity measurement: ONNX Runtime against TorchSharp for one batch size and prompt length.</summary>
public sealed record ParityCase(
    [property: JsonPropertyName("batch")] int Batch,
    [property: JsonPropertyName("promptLength")] int PromptLength,
    [property: JsonPropertyName("decodeSteps")] int DecodeSteps,
    [property: JsonPropertyName("prefillMaxAbsDiff")] double PrefillMaxAbsDiff,
    [property: JsonPropertyName("decodeMaxAbsDiff")] double DecodeMaxAbsDiff);

/// <summary>
/// How closely the exported ONNX model reproduces the TorchSharp model: maximum absolute logit difference (fp32) over a
/// full prompt (prefill) and over step-by-step decoding through the KV cache.
/// </summary>
public sealed record ParityReport(
    [property: JsonPropertyName("reference")] string Reference,
    [property: JsonPropertyName("tolerance")] double Tolerance,
    [property: JsonPropertyName("prefillMaxAbsDiff")] double PrefillMaxAbsDiff,
    [property: JsonPropertyName("decodeMaxAbsDiff")] double DecodeMaxAbsDiff,
    [property: JsonPropertyName("greedyMatches")] bool GreedyMatches,
    [property: JsonPropertyName("passed")] bool Passed,
    [property: JsonPropertyName("cases")] IReadOnlyList<ParityCase> Cases);

/// <summary>
/// The quality check of a quantised export: the quantised ONNX model against the fp32 training model on the same tokens
/// (validation data when the run has some, else text sampled from the fp32 model). Losses are mean nats per predicted
/// token; agreement is the share of positions where both pick the same most likely next token; the greedy figures
/// compare continuations of a few prompts through the quantised model's KV cache.
/// </summary>
public sealed record QuantizationReport(
    [property: JsonPropertyName("precision")] string Precision,
    [property: JsonPropertyName("operator")] string Operator,
    [property: JsonPropertyName("bits")] int Bits,
    [property: JsonPropertyName("blockSize")] int BlockSize,
    [property: JsonPropertyName("accuracyLevel")] int AccuracyLevel,
    [property: JsonPropertyName("lmHeadQuantized")] bool LmHeadQuantized,
    [property: JsonPropertyName("evaluationText")] string EvaluationText,
    [property: JsonPropertyName("tokens")] long Tokens,
    [property: JsonPropertyName("fp32Loss")] double Fp32Loss,
    [property: JsonPropertyName("quantizedLoss")] double QuantizedLoss,
    [property: JsonPropertyName("lossIncreasePercent")] double LossIncreasePercent,
    [property: JsonPropertyName("maxLossIncreasePercent")] double MaxLossIncreasePercent,
    [property: JsonPropertyName("top1Agreement")] double Top1Agreement,
    [property: JsonPropertyName("meanAbsLogitDiff")] double MeanAbsLogitDiff,
    [property: JsonPropertyName("greedyTokens")] int GreedyTokens,
    [property: JsonPropertyName("greedyIdenticalTokens")] int GreedyIdenticalTokens,
    [property: JsonPropertyName("passed")] bool Passed);

/// <summary>Where an artifact came from.</summary>
public sealed record ArtifactSource(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("preset")] string? Preset = null,
    [property: JsonPropertyName("data")] string? Data = null);

/// <summary>manifest.json of an exported artifact folder: every file with its hash and size, plus how it was made.</summary>
public sealed record ArtifactManifest
{
    public const string FileName = "manifest.json";
    /// <summary>The decoder's file name in an artifact folder, unless the manifest names another.</summary>
    public const string DefaultOnnxModel = "model.onnx";

    [JsonPropertyName("formatVersion")] public int FormatVersion { get; init; } = 1;
    [JsonPropertyName("producer")] public string Producer { get; init; } = "SLM Studio";
    [JsonPropertyName("createdUtc")] public DateTimeOffset CreatedUtc { get; init; }
    [JsonPropertyName("modelType")] public string ModelType { get; init; } = "llama";
    /// <summary>What the model does: "classify" for a text classifier (labels.json beside it); null for a text model.</summary>
    [JsonPropertyName("task")] public string? Task { get; init; }
    [JsonPropertyName("opset")] public int Opset { get; init; }
    [JsonPropertyName("onnxModel")] public string OnnxModel { get; init; } = DefaultOnnxModel;
    [JsonPropertyName("parameters")] public long Parameters { get; init; }
    /// <summary>The context length the model was trained with (from run.json), used by evaluation; null for imports.</summary>
    [JsonPropertyName("contextLength")] public int? ContextLength { get; init; }
    [JsonPropertyName("source")] public ArtifactSource? Source { get; init; }
    [JsonPropertyName("metrics")] public Dictionary<string, double>? Metrics { get; init; }
    [JsonPropertyName("parity")] public ParityReport? Parity { get; init; }
    /// <summary>How the linear layers' weights are stored: fp32, int8 or int4 (artifacts from before quantisation are fp32).</summary>
    [JsonPropertyName("precision")] public string Precision { get; init; } = "fp32";
    /// <summary>The quality check of a quantised export; null for fp32.</summary>
    [JsonPropertyName("quantization")] public QuantizationReport? Quantization { get; init; }
    /// <summary>The base model a fine-tuned model started from (name and weights hash); null for a model trained from scratch.</summary>
    [JsonPropertyName("baseModel")] public Library.BaseModelLineage? BaseModel { get; init; }
    /// <summary>The folder (relative) holding the LoRA adapter in PEFT's layout when the model was fine-tuned with one; its weights are also merged into the model.</summary>
    [JsonPropertyName("adapter")] public string? Adapter { get; init; }
    [JsonPropertyName("files")] public IReadOnlyList<ManifestFile> Files { get; init; } = [];

    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Hashes the named files of <paramref name="dir"/> (relative paths, '/' separated).</summary>
    public static IReadOnlyList<ManifestFile> Describe(string dir, IEnumerable<string> relativePaths) =>
        relativePaths.Select(p =>
        {
            var full = System.IO.Path.Combine(dir, p);
            return new ManifestFile(p.Replace('\\', '/'), Sha256Of(full), new FileInfo(full).Length);
        }).ToList();

    public void Save(string dir) => AtomicFile.WriteAllText(System.IO.Path.Combine(dir, FileName), JsonSerializer.Serialize(this, Json));

    /// <summary>Reads manifest.json, refusing a missing or malformed one with a message that says what to do.</summary>
    public static ArtifactManifest Load(string dir)
    {
        if (!Directory.Exists(dir))
            throw new InvalidModelFileException($"The artifact folder {dir} does not exist. Export a model first: slm export <run folder> --out {dir}.");
        var path = System.IO.Path.Combine(dir, FileName);
        if (!File.Exists(path))
            throw new InvalidModelFileException($"{dir} is not an exported artifact: it has no {FileName}. Export the model again with 'slm export'.");
        ArtifactManifest? manifest;
        try { manifest = JsonSerializer.Deserialize<ArtifactManifest>(File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new InvalidModelFileException($"{path} is damaged (not valid JSON: {e.Message}). Export the model again.", e); }
        if (manifest is null || manifest.Files.Count == 0 || manifest.Files.Any(f => string.IsNullOrEmpty(f.Path) || f.Sha256 is not { Length: 64 }))
            throw new InvalidModelFileException($"{path} is damaged: it does not list the artifact's files with their SHA-256. Export the model again.");
        return manifest;
    }

    /// <summary>The entry for <paramref name="relativePath"/>, or a clear error if the manifest does not list it.</summary>
    public ManifestFile Entry(string relativePath) =>
        Files.FirstOrDefault(f => f.Path == relativePath)
        ?? throw new InvalidModelFileException($"manifest.json does not list {relativePath}; the artifact is incomplete. Export the model again.");

    /// <summary>Checks one file's size and SHA-256 against the manifest; returns its bytes so the caller loads exactly what was checked.</summary>
    public byte[] ReadVerified(string dir, string relativePath)
    {
        var entry = Entry(relativePath);
        var full = System.IO.Path.Combine(dir, relativePath);
        if (!File.Exists(full)) throw new InvalidModelFileException($"The artifact is incomplete: {relativePath} is missing from {dir}. Export the model again.");
        var bytes = File.ReadAllBytes(full);
        Check(entry, bytes.LongLength, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        return bytes;
    }

    /// <summary>Checks a file on disk without keeping it in memory (large external weight files).</summary>
    public void VerifyFile(string dir, string relativePath)
    {
        var entry = Entry(relativePath);
        var full = System.IO.Path.Combine(dir, relativePath);
        if (!File.Exists(full)) throw new InvalidModelFileException($"The artifact is incomplete: {relativePath} is missing from {dir}. Export the model again.");
        Check(entry, new FileInfo(full).Length, Sha256Of(full));
    }

    /// <summary>The listed files that are missing from <paramref name="dir"/> or differ in size or SHA-256; empty when all match.
    /// For checking a whole folder at once (registering, auditing) where a list reads better than the first failure.</summary>
    public IReadOnlyList<string> Mismatches(string dir) =>
        [.. Files.Where(f =>
        {
            var full = System.IO.Path.Combine(dir, f.Path);
            return !File.Exists(full) || new FileInfo(full).Length != f.Bytes || !string.Equals(Sha256Of(full), f.Sha256, StringComparison.OrdinalIgnoreCase);
        }).Select(f => f.Path)];

    private static void Check(ManifestFile entry, long bytes, string sha)
    {
        if (bytes != entry.Bytes || !string.Equals(sha, entry.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new InvalidModelFileException(
                $"{entry.Path} does not match manifest.json (SHA-256 {sha[..12]}…, {bytes} bytes; expected {entry.Sha256[..12]}…, {entry.Bytes} bytes): the file was changed or damaged after export, so it is not loaded. Export the model again or restore the original file.");
    }
}
