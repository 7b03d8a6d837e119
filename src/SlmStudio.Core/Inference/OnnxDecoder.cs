using Microsoft.ML.OnnxRuntime;
using SlmStudio.Core.Models;

namespace SlmStudio.Core.Inference;

/// <summary>
/// One ONNX Runtime session over an exported decoder (the graph the exporter writes). Thread-safe: ONNX
/// Runtime's <c>Run</c> is, and every call carries its own inputs and KV cache, so one instance serves all callers.
/// </summary>
public sealed class OnnxDecoder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _pastNames;
    private readonly string[] _outputNames;

    public LlamaConfig Config { get; }

    /// <summary>The cores one call keeps busy (ONNX Runtime's intra-op threads), so that callers know how many calls fit side by side.</summary>
    public int ThreadsPerCall { get; }

    private OnnxDecoder(InferenceSession session, LlamaConfig config, int threadsPerCall)
    {
        _session = session;
        Config = config;
        ThreadsPerCall = threadsPerCall;
        _pastNames = Enumerable.Range(0, config.NumLayers).SelectMany(i => new[] { $"past_key_values.{i}.key", $"past_key_values.{i}.value" }).ToArray();
        _outputNames = new[] { "logits" }.Concat(Enumerable.Range(0, config.NumLayers).SelectMany(i => new[] { $"present.{i}.key", $"present.{i}.value" })).ToArray();
        var inputs = session.InputMetadata.Keys.ToHashSet(StringComparer.Ordinal);
        var missing = new[] { "input_ids", "attention_mask", "position_ids" }.Concat(_pastNames).Where(n => !inputs.Contains(n)).ToList();
        var outputs = session.OutputMetadata.Keys.ToHashSet(StringComparer.Ordinal);
        missing.AddRange(_outputNames.Where(n => !outputs.Contains(n)));
        if (missing.Count > 0)
        {
            session.Dispose();
            throw new InvalidModelFileException($"model.onnx does not match its config.json: it lacks {string.Join(", ", missing.Take(4))}{(missing.Count > 4 ? ", ..." : "")}. Export the model again.");
        }
    }

    /// <summary>
    /// Session options for <paramref name="config"/>. Models under <see cref="SingleThreadBelowParameters"/> parameters
    /// run each request on one intra-op thread: an operator of such a decoder step takes microseconds, so splitting it
    /// across threads costs more in synchronisation than it saves (measured on Small: about 2x faster decode and 3x
    /// faster prefill single-threaded on a 2-core machine), and concurrent requests use the other cores. Larger models
    /// use ONNX Runtime's default of one thread per core.
    /// </summary>
    public static SessionOptions DefaultOptions(LlamaConfig config, int? intraOpThreads = null)
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        var threads = IntraOpThreads(config, intraOpThreads);
        if (threads > 0) options.IntraOpNumThreads = threads;
        return options;
    }

    /// <summary>The intra-op threads a session for <paramref name="config"/> gets; 0: ONNX Runtime's default, one per core.</summary>
    private static int IntraOpThreads(LlamaConfig config, int? intraOpThreads) =>
        intraOpThreads ?? (config.ParameterCount < SingleThreadBelowParameters ? 1 : 0);

    public const long SingleThreadBelowParameters = 50_000_000;

    /// <summary>Loads from a file path (needed when the weights live in external data beside the model).</summary>
    public static OnnxDecoder Load(string onnxPath, LlamaConfig config, int? intraOpThreads = null) =>
        Create(() => new InferenceSession(onnxPath, DefaultOptions(config, intraOpThreads)), config, onnxPath, intraOpThreads);

    /// <summary>Loads from bytes already read (and verified) by the caller, so the file cannot change in between.</summary>
    public static OnnxDecoder Load(byte[] onnxBytes, LlamaConfig config, string displayName, int? intraOpThreads = null) =>
        Create(() => new InferenceSession(onnxBytes, DefaultOptions(config, intraOpThreads)), config, displayName, intraOpThreads);

    private static OnnxDecoder Create(Func<InferenceSession> open, LlamaConfig config, string name, int? intraOpThreads)
    {
        InferenceSession session;
        try { session = open(); }
        catch (OnnxRuntimeException e) { throw new InvalidModelFileException($"ONNX Runtime cannot load {Path.GetFileName(name)}: {e.Message}", e); }
        var threads = IntraOpThreads(config, intraOpThreads);
        return new OnnxDecoder(session, config, threads > 0 ? threads : Environment.ProcessorCount);
    }

    /// <summary>An empty cache for <paramref name="batch"/> sequences.</summary>
    public OnnxKvCache EmptyCache(int batch) => OnnxKvCache.Empty(Config, batch);

    /// <summary>
    /// Runs the decoder on <paramref name="inputIds"/> ([batch, seqLen], row-major) after <paramref name="past"/>.
    /// <paramref name="attentionMask"/> covers past and new tokens ([batch, past + seqLen]). The result owns the logits
    /// and the new cache; dispose it (or hand its cache on) when done. <paramref name="past"/> is not consumed.
    /// </summary>
    public DecoderOutput Run(ReadOnlySpan<long> inputIds, ReadOnlySpan<long> attentionMask, ReadOnlySpan<long> positionIds, int batch, int seqLen, OnnxKvCache past)
    {
        if (inputIds.Length != batch * seqLen || positionIds.Length != batch * seqLen)
            throw new ArgumentException("input_ids and position_ids must hold batch × sequence length values.");
        int total = past.Length + seqLen;
        if (attentionMask.Length != batch * total)
            throw new ArgumentException($"attention_mask must hold batch × (past {past.Length} + new {seqLen}) values.");
        if (past.Batch != batch) throw new ArgumentException("The KV cache belongs to a different batch size.");

        using var ids = OrtValue.CreateTensorValueFromMemory(inputIds.ToArray(), [batch, seqLen]);
        using var mask = OrtValue.CreateTensorValueFromMemory(attentionMask.ToArray(), [batch, total]);
        using var positions = OrtValue.CreateTensorValueFromMemory(positionIds.ToArray(), [batch, seqLen]);
        var inputNames = new List<string>(3 + _pastNames.Length) { "input_ids", "attention_mask", "position_ids" };
        inputNames.AddRange(_pastNames);
        var inputValues = new List<OrtValue>(inputNames.Count) { ids, mask, positions };
        inputValues.AddRange(past.Values);
        using var runOptions = new RunOptions();
        var results = _session.Run(runOptions, inputNames, inputValues, _outputNames);
        return new DecoderOutput(results, batch, seqLen, Config.VocabSize, new OnnxKvCache(results, batch, total));
    }

    public void Dispose() => _session.Dispose();
}

/// <summary>Logits of one decoder call ([batch, seqLen, vocab]) and the cache after it.</summary>
public sealed class DecoderOutput(IDisposableReadOnlyCollection<OrtValue> results, int batch, int seqLen, int vocab, OnnxKvCache cache) : IDisposable
{
    private bool _cacheTaken;

    public int Batch => batch;
    public int SequenceLength => seqLen;
    public int VocabSize => vocab;

    /// <summary>All logits, row-major [batch, seqLen, vocab]; valid until disposal.</summary>
    public ReadOnlySpan<float> Logits => results[0].GetTensorDataAsSpan<float>();

    /// <summary>The logits of sequence <paramref name="b"/> at position <paramref name="t"/>.</summary>
    public ReadOnlySpan<float> LogitsAt(int b, int t) => Logits.Slice(((b * seqLen) + t) * vocab, vocab);

    /// <summary>Takes the new KV cache; it then owns the native results and must be disposed by the caller.</summary>
    public OnnxKvCache TakeCache()
    {
        _cacheTaken = true;
        return cache;
    }

    public void Dispose()
    {
        if (!_cacheTaken) results.Dispose();
    }
}

/// <summary>
/// Past keys and values of every layer as ONNX Runtime values, [batch, kv_heads, length, head_dim], fed back as the next
/// call's past without copying.
/// </summary>
public sealed class OnnxKvCache : IDisposable
{
    private readonly IDisposable? _owner;
    private readonly List<OrtValue> _values;

    public int Batch { get; }
    public int Length { get; }
    internal IReadOnlyList<OrtValue> Values => _values;

    internal OnnxKvCache(IDisposableReadOnlyCollection<OrtValue> results, int batch, int length)
    {
        _owner = results;
        _values = results.Skip(1).ToList();
        Batch = batch;
        Length = length;
    }

    private OnnxKvCache(List<OrtValue> values, int batch, int length = 0)
    {
        _values = values;
        _owner = null;
        Batch = batch;
        Length = length;
    }

    /// <summary>
    /// A new cache of <c>rows.Count</c> sequences, <paramref name="length"/> positions long, each row copied from a row of
    /// a source cache and aligned on the right: a shorter source is padded with zeros on the left (mask those positions
    /// out), a longer one loses its leading positions (only padding may be dropped that way). This is how a running
    /// batch takes in a sequence or lets one go. The sources are not consumed.
    /// </summary>
    internal static OnnxKvCache Gather(IReadOnlyList<(OnnxKvCache Source, int Row)> rows, int length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows.Count, 1);
        var first = rows[0].Source;
        var values = new List<OrtValue>(first._values.Count);
        try
        {
            for (int v = 0; v < first._values.Count; v++)
            {
                var shape = first._values[v].GetTensorTypeAndShape().Shape; // [batch, kv_heads, length, head_dim]
                int heads = (int)shape[1], headDim = (int)shape[3];
                var data = new float[rows.Count * heads * length * headDim];
                for (int r = 0; r < rows.Count; r++)
                {
                    var (source, row) = rows[r];
                    var from = source._values[v].GetTensorDataAsSpan<float>();
                    int kept = Math.Min(length, source.Length);
                    for (int h = 0; h < heads; h++)
                    {
                        var sourceStart = ((row * heads + h) * source.Length + source.Length - kept) * headDim;
                        var targetStart = ((r * heads + h) * length + length - kept) * headDim;
                        from.Slice(sourceStart, kept * headDim).CopyTo(data.AsSpan(targetStart, kept * headDim));
                    }
                }
                values.Add(OrtValue.CreateTensorValueFromMemory(data, [rows.Count, heads, length, headDim]));
            }
        }
        catch
        {
            foreach (var value in values) value.Dispose();
            throw;
        }
        return new OnnxKvCache(values, rows.Count, length);
    }

    internal static OnnxKvCache Empty(LlamaConfig config, int batch)
    {
        var values = new List<OrtValue>(2 * config.NumLayers);
        for (int i = 0; i < 2 * config.NumLayers; i++)
            values.Add(OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [batch, config.NumKvHeads, 0, config.HeadDim]));
        return new OnnxKvCache(values, batch);
    }

    public void Dispose()
    {
        if (_owner is not null) _owner.Dispose();
        else foreach (var v in _values) v.Dispose();
    }
}
