namespace SlmStudio.Core.Inference;

/// <summary>
/// One generation over a fixed batch of prompts: left-pads them into one batch, runs the prompt once (prefill), then one
/// token per step through the KV cache; samples per row with the row's own seeded random stream (<see cref="GenerationRow"/>),
/// so a prompt gives the same tokens alone or in a batch. The product's generations run in the lanes of
/// <see cref="GenerationBatcher"/>; this fixed batch is the benchmark's "one batch" and the tests' reference for a prompt
/// run alone. Not thread-safe; the decoder it uses is.
/// </summary>
internal sealed class GenerationRun : IDisposable
{
    private readonly OnnxArtifact _artifact;
    private readonly GenerationRow[] _rows;
    private readonly int _batch;
    private readonly List<long> _mask = [];  // [batch, length] row-major, rebuilt per step from _maskRows
    private readonly List<long>[] _maskRows;
    private OnnxKvCache? _cache;
    private long[] _nextIds;
    private int _step;

    public bool Done => _rows.All(r => r.Finish is not null);

    public string FinishReason(int row) => _rows[row].Finish ?? "length";

    /// <summary>New tokens chosen so far, over all rows (a benchmark's count: emitted pieces of text may hold several).</summary>
    public int GeneratedTokens => _rows.Sum(r => r.GeneratedCount);

    public GenerationRun(OnnxArtifact artifact, IReadOnlyList<int[]> prompts, GenerationSettings settings)
    {
        _artifact = artifact;
        _batch = prompts.Count;
        var trimmed = prompts.Select(p => GenerationRow.FitToContext(p, artifact.Config.MaxPositions)).ToArray();
        int width = trimmed.Max(p => p.Length);
        _rows = new GenerationRow[_batch];
        _maskRows = new List<long>[_batch];
        _nextIds = new long[_batch * width];
        var positions = new long[_batch * width];
        for (int b = 0; b < _batch; b++)
        {
            var p = trimmed[b];
            int pad = width - p.Length;
            _rows[b] = new GenerationRow(p, settings, artifact);
            _maskRows[b] = [.. Enumerable.Repeat(0L, pad), .. Enumerable.Repeat(1L, p.Length)];
            for (int t = 0; t < width; t++)
            {
                _nextIds[b * width + t] = t < pad ? (artifact.EndOfTextId ?? 0) : p[t - pad];
                positions[b * width + t] = t < pad ? 0 : t - pad;
            }
        }
        _prefillPositions = positions;
        _width = width;
    }

    private long[]? _prefillPositions;
    private int _width;

    /// <summary>Runs the model once and picks one token for every unfinished row; returns the tokens to emit.</summary>
    public List<(int Row, GeneratedToken Token)> Step()
    {
        var emitted = new List<(int, GeneratedToken)>();
        if (Done) return emitted;
        int seqLen = _step == 0 ? _width : 1;
        long[] positions = _step == 0 ? _prefillPositions! : _rows.Select(r => (long)r.NextPosition - 1).ToArray();
        _mask.Clear();
        foreach (var m in _maskRows) _mask.AddRange(m);
        _cache ??= _artifact.Decoder.EmptyCache(_batch);
        using var output = _artifact.Decoder.Run(_nextIds, _mask.ToArray(), positions, _batch, seqLen, _cache);
        _cache.Dispose();
        _cache = output.TakeCache();
        _step++;

        var next = new long[_batch];
        var logits = new float[_artifact.Config.VocabSize];
        for (int b = 0; b < _batch; b++)
        {
            var row = _rows[b];
            _maskRows[b].Add(1);
            if (row.Finish is not null) { next[b] = _artifact.EndOfTextId ?? 0; continue; }
            output.LogitsAt(b, seqLen - 1).CopyTo(logits);
            if (row.Choose(logits) is { } token) emitted.Add((b, token));
            next[b] = row.LastId;
        }
        _nextIds = next;
        return emitted;
    }

    public void Dispose() => _cache?.Dispose();
}
