using System.Collections.Concurrent;
using System.Text;

namespace SlmStudio.Core.Tokenization;

/// <summary>
/// The BPE model of a tokenizer.json: vocabulary, ranked merges, and Hugging Face's merge order (lowest rank first,
/// leftmost on ties), with optional SentencePiece byte fallback (<c>&lt;0xNN&gt;</c>) and unknown token.
/// </summary>
internal sealed class BpeModel
{
    private const int CacheLimit = 200_000;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<long, (int Rank, int NewId)> _merges;
    private readonly int? _unkId;
    private readonly bool _fuseUnk;
    private readonly bool _ignoreMerges;
    private readonly int[]? _byteFallbackIds;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<(string A, string B)> merges, string? unkToken, bool fuseUnk,
        bool byteFallback, bool ignoreMerges)
    {
        _vocab = vocab;
        _fuseUnk = fuseUnk;
        _ignoreMerges = ignoreMerges;
        if (unkToken is not null)
            _unkId = vocab.TryGetValue(unkToken, out var u) ? u
                : throw new Models.UnsupportedModelException($"The tokenizer's unknown token '{unkToken}' is not in its vocabulary.");
        if (byteFallback)
        {
            _byteFallbackIds = new int[256];
            for (int b = 0; b < 256; b++)
                _byteFallbackIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out var id) ? id : -1;
        }
        _merges = new Dictionary<long, (int, int)>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (a, b) = merges[rank];
            if (!vocab.TryGetValue(a, out var ia) || !vocab.TryGetValue(b, out var ib))
                throw new Models.UnsupportedModelException($"Merge {rank} ('{a}' '{b}') of the tokenizer uses a token that is not in its vocabulary.");
            if (!vocab.TryGetValue(a + b, out var merged))
                throw new Models.UnsupportedModelException($"Merge {rank} ('{a}' '{b}') of the tokenizer makes '{a + b}', which is not in its vocabulary.");
            _merges.TryAdd(Key(ia, ib), (rank, merged));
        }
    }

    public int MergeCount => _merges.Count;

    private static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    /// <summary>Token ids of one pre-tokenized word (already normalized and, for byte-level, byte-mapped).</summary>
    public int[] Encode(string word)
    {
        if (word.Length == 0) return [];
        if (_cache.TryGetValue(word, out var cached)) return cached;
        var ids = EncodeUncached(word);
        if (_cache.Count >= CacheLimit) _cache.Clear();
        _cache.TryAdd(word, ids);
        return ids;
    }

    private int[] EncodeUncached(string word)
    {
        if (_ignoreMerges && _vocab.TryGetValue(word, out var whole)) return [whole];

        var symbols = new List<int>(word.Length);
        bool lastWasUnk = false;
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < word.Length;)
        {
            int width = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            var piece = word.Substring(i, width);
            i += width;
            if (_vocab.TryGetValue(piece, out var id)) { symbols.Add(id); lastWasUnk = false; continue; }
            if (_byteFallbackIds is not null)
            {
                int n = Encoding.UTF8.GetBytes(piece, utf8);
                bool all = true;
                for (int k = 0; k < n; k++) all &= _byteFallbackIds[utf8[k]] >= 0;
                if (all)
                {
                    for (int k = 0; k < n; k++) symbols.Add(_byteFallbackIds[utf8[k]]);
                    lastWasUnk = false;
                    continue;
                }
            }
            if (_unkId is not { } unk)
                throw new Models.UnsupportedModelException($"The tokenizer cannot represent the character '{piece}': it is not in the vocabulary and the tokenizer has no unknown token.");
            if (!(_fuseUnk && lastWasUnk)) symbols.Add(unk);
            lastWasUnk = true;
        }
        if (symbols.Count < 2 || _merges.Count == 0) return [.. symbols];
        return MergeAll(symbols);
    }

    /// <summary>Hugging Face's Word::merge_all: a heap of (rank, position) with lazily discarded stale entries.</summary>
    private int[] MergeAll(List<int> ids)
    {
        int n = ids.Count;
        var id = ids.ToArray();
        var prev = new int[n];
        var next = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++) { prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; alive[i] = true; }
        var queue = new PriorityQueue<int, long>();
        for (int i = 0; i + 1 < n; i++)
            if (_merges.TryGetValue(Key(id[i], id[i + 1]), out var m)) queue.Enqueue(i, Priority(m.Rank, i));

        while (queue.TryDequeue(out int pos, out long priority))
        {
            if (!alive[pos] || next[pos] < 0) continue;
            int right = next[pos];
            if (!_merges.TryGetValue(Key(id[pos], id[right]), out var m) || m.Rank != (int)(priority >> 32)) continue;
            id[pos] = m.NewId;
            alive[right] = false;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            if (prev[pos] >= 0 && _merges.TryGetValue(Key(id[prev[pos]], id[pos]), out var left))
                queue.Enqueue(prev[pos], Priority(left.Rank, prev[pos]));
            if (next[pos] >= 0 && _merges.TryGetValue(Key(id[pos], id[next[pos]]), out var after))
                queue.Enqueue(pos, Priority(after.Rank, pos));
        }

        var result = new List<int>(n);
        for (int i = 0; i >= 0; i = next[i]) result.Add(id[i]);
        return [.. result];
    }

    private static long Priority(int rank, int position) => ((long)rank << 32) | (uint)position;
}
