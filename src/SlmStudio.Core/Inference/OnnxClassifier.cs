using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Inference;

/// <summary>
/// An exported classifier artifact opened for inference (the playground, batch files, <c>slm classify</c> and
/// <c>slm eval</c>): every file it loads is checked against manifest.json first. Texts are tokenized as in training,
/// cut to the classifier's token limit, grouped by length and run in right-padded batches. Thread-safe.
/// </summary>
public sealed class OnnxClassifier : IDisposable
{
    /// <summary>The value of <see cref="ArtifactManifest.Task"/> for classifier artifacts.</summary>
    public const string Task = "classify";

    private readonly InferenceSession _session;

    public string? Directory { get; }
    public ArtifactManifest? Manifest { get; }
    public LlamaConfig Config { get; }
    public ITokenizer Tokenizer { get; }
    /// <summary>The labels in the order of each probability row.</summary>
    public IReadOnlyList<string> Labels { get; }
    /// <summary>Texts are cut to this many tokens, as in training.</summary>
    public int MaxTokens { get; }

    private OnnxClassifier(InferenceSession session, string? directory, ArtifactManifest? manifest, LlamaConfig config, ITokenizer tokenizer, ClassifierLabels labels)
    {
        _session = session;
        Directory = directory;
        Manifest = manifest;
        Config = config;
        Tokenizer = tokenizer;
        Labels = labels.Labels;
        MaxTokens = labels.TokenLimit(config.MaxPositions);
        var missing = new[] { ClassifierOnnxGraphNames.InputIds, ClassifierOnnxGraphNames.AttentionMask }.Where(n => !session.InputMetadata.ContainsKey(n))
            .Concat(session.OutputMetadata.ContainsKey(ClassifierOnnxGraphNames.Probabilities) ? [] : [ClassifierOnnxGraphNames.Probabilities]).ToList();
        if (missing.Count > 0)
        {
            session.Dispose();
            throw new InvalidModelFileException($"model.onnx is not a classifier graph: it lacks {string.Join(", ", missing)}. Export the classification run again.");
        }
    }

    /// <summary>True when <paramref name="dir"/> is an exported classifier (its manifest says so, or it has labels.json).</summary>
    public static bool IsClassifierArtifact(string dir)
    {
        if (File.Exists(Path.Combine(dir, ClassifierFolder.LabelsFile))) return true;
        try { return File.Exists(Path.Combine(dir, ArtifactManifest.FileName)) && ArtifactManifest.Load(dir).Task == Task; }
        catch (EngineException) { return false; }
    }

    /// <summary>Opens an artifact folder, refusing a missing, incomplete or tampered one with a clear message.</summary>
    public static OnnxClassifier Open(string dir, int? intraOpThreads = null)
    {
        var manifest = ArtifactManifest.Load(dir);
        if (!File.Exists(Path.Combine(dir, ClassifierFolder.LabelsFile)))
            throw new InvalidModelFileException($"{dir} is not a classifier: it has no {ClassifierFolder.LabelsFile}. 'slm classify' works on models trained with 'slm train --task classify' and exported with 'slm export'.");
        manifest.VerifyFile(dir, ModelFolder.ConfigFile);
        var config = LlamaConfig.Load(Path.Combine(dir, ModelFolder.ConfigFile));
        manifest.VerifyFile(dir, ModelFolder.TokenizerFile);
        var tokenizer = TokenizerFile.Load(Path.Combine(dir, ModelFolder.TokenizerFile));
        manifest.VerifyFile(dir, ClassifierFolder.LabelsFile);
        var labels = ClassifierLabels.Load(Path.Combine(dir, ClassifierFolder.LabelsFile));
        var onnxName = string.IsNullOrEmpty(manifest.OnnxModel) ? ArtifactManifest.DefaultOnnxModel : manifest.OnnxModel;
        InferenceSession session;
        var options = OnnxDecoder.DefaultOptions(config, intraOpThreads);
        try
        {
            if (manifest.Files.Any(f => f.Path == onnxName + ".data"))
            {
                manifest.VerifyFile(dir, onnxName);
                manifest.VerifyFile(dir, onnxName + ".data");
                session = new InferenceSession(Path.Combine(dir, onnxName), options);
            }
            else session = new InferenceSession(manifest.ReadVerified(dir, onnxName), options);
        }
        catch (OnnxRuntimeException e) { throw new InvalidModelFileException($"ONNX Runtime cannot load {onnxName}: {e.Message}", e); }
        return new OnnxClassifier(session, Path.GetFullPath(dir), manifest, config, tokenizer, labels);
    }

    /// <summary>A classifier over ONNX bytes not yet in an artifact (the exporter's parity check).</summary>
    public static OnnxClassifier Load(byte[] onnx, LlamaConfig config, ITokenizer tokenizer, ClassifierLabels labels)
    {
        InferenceSession session;
        try { session = new InferenceSession(onnx, OnnxDecoder.DefaultOptions(config)); }
        catch (OnnxRuntimeException e) { throw new InvalidModelFileException($"ONNX Runtime cannot load the classifier graph: {e.Message}", e); }
        return new OnnxClassifier(session, null, null, config, tokenizer, labels);
    }

    /// <summary>Token ids of each text as in training, cut to <see cref="MaxTokens"/>; an empty text reads as the padding token alone.</summary>
    public IReadOnlyList<int[]> Encode(IReadOnlyList<string> texts)
    {
        var padId = Tokenizer.PadId ?? 0;
        return [.. texts.Select(t =>
        {
            var ids = Tokenizer.Encode(t, addSpecialTokens: false, splitSpecialTokens: false);
            return ids.Length == 0 ? [padId] : ids.Length > MaxTokens ? ids[..MaxTokens] : ids;
        })];
    }

    /// <summary>One probability per label for each text, in the order of <see cref="Labels"/>.</summary>
    public float[][] Probabilities(IReadOnlyList<string> texts, int batchSize = 32, CancellationToken ct = default) =>
        Probabilities(Encode(texts), batchSize, ct);

    /// <summary>As <see cref="Probabilities(IReadOnlyList{string}, int, CancellationToken)"/> for token ids; similar lengths share a batch.</summary>
    public float[][] Probabilities(IReadOnlyList<int[]> sequences, int batchSize = 32, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var result = new float[sequences.Count][];
        var order = Enumerable.Range(0, sequences.Count).OrderBy(i => sequences[i].Length).ToArray();
        for (int start = 0; start < order.Length; start += batchSize)
        {
            ct.ThrowIfCancellationRequested();
            var batch = order[start..Math.Min(order.Length, start + batchSize)];
            var rows = RunPadded([.. batch.Select(i => sequences[i])]);
            for (int j = 0; j < batch.Length; j++) result[batch[j]] = rows[j];
        }
        return result;
    }

    /// <summary>One batch exactly as given: right-padded to its longest sequence, in this order.</summary>
    public float[][] RunPadded(IReadOnlyList<int[]> sequences)
    {
        if (sequences.Count == 0) return [];
        var padId = Tokenizer.PadId ?? 0;
        int b = sequences.Count, t = sequences.Max(s => s.Length);
        var ids = new long[b * t];
        var mask = new long[b * t];
        for (int r = 0; r < b; r++)
            for (int i = 0; i < t; i++)
            {
                var inside = i < sequences[r].Length;
                ids[r * t + i] = inside ? sequences[r][i] : padId;
                mask[r * t + i] = inside ? 1 : 0;
            }
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, [b, t]);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, [b, t]);
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions,
            new Dictionary<string, OrtValue> { [ClassifierOnnxGraphNames.InputIds] = idsValue, [ClassifierOnnxGraphNames.AttentionMask] = maskValue },
            [ClassifierOnnxGraphNames.Probabilities]);
        var flat = outputs[0].GetTensorDataAsSpan<float>();
        var k = Labels.Count;
        if (flat.Length != b * k) throw new InvalidModelFileException($"model.onnx returned {flat.Length} probabilities for {b} texts and {k} labels; it does not belong to labels.json. Export the model again.");
        var result = new float[b][];
        for (int r = 0; r < b; r++) result[r] = flat.Slice(r * k, k).ToArray();
        return result;
    }

    /// <summary>The labels of each text ranked by probability, most likely first.</summary>
    public IReadOnlyList<IReadOnlyList<RankedLabel>> Classify(IReadOnlyList<string> texts, int batchSize = 32, CancellationToken ct = default) =>
        [.. Probabilities(texts, batchSize, ct).Select(row => (IReadOnlyList<RankedLabel>)[.. row.Select((p, i) => new RankedLabel(Labels[i], p)).OrderByDescending(r => r.Probability)])];

    /// <summary>Accuracy, macro-F1, per-label figures, confusions and calibration on labelled examples. Labels the model does not know count as errors.</summary>
    public ClassificationMetrics Evaluate(IReadOnlyList<LabelledExample> examples, int batchSize = 32, CancellationToken ct = default)
    {
        var usable = examples.Where(e => e.IsUsable).ToList();
        var labels = Labels.Concat(usable.Select(e => e.Label).Where(l => !Labels.Contains(l)).Distinct(StringComparer.Ordinal)).ToList();
        var index = labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i, StringComparer.Ordinal);
        var probabilities = Probabilities([.. usable.Select(e => e.Text)], batchSize, ct);
        return ClassificationMetrics.Compute(labels, [.. usable.Select((e, i) => ClassificationMetrics.FromProbabilities(index[e.Label], probabilities[i], e.Text))]);
    }

    public void Dispose() => _session.Dispose();
}

/// <summary>The classifier graph's input and output names (as <see cref="Export.ClassifierOnnxGraph"/> writes them).</summary>
internal static class ClassifierOnnxGraphNames
{
    public const string InputIds = "input_ids";
    public const string AttentionMask = "attention_mask";
    public const string Probabilities = "probabilities";
}
