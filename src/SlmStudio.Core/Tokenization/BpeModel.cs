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
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabBySpan;
    private readonly Dictionary<long, (int Rank, int NewId)> _merges;
    private readonly int? _unkId;
    private readonly bool _fuseUnk;
    private readonly bool _ignoreMerges;
    private readonly int[]? _byteFallbackIds;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]> _rawByteLevelCache = new(StringComparer.Ordinal);
    private int _cacheSize;
    private int _rawCacheSize;

    public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<(string A, string B)> merges, string? unkToken, bool fuseUnk,
        bool byteFallback, bool ignoreMerges)
    {
        _vocab = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        _vocabBySpan = _vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _fuseUnk = fuseUnk;
        _ignoreMerges = ignoreMerges;
        if (unkToken is not null)
            _unkId = vocab.TryGetValue(unkToken, out var u) ? u
                : throw new UnsupportedModelException($"The tokenizer's unknown token '{unkToken}' is not in its vocabulary.");
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
                throw new UnsupportedModelException($"Merge {rank} ('{a}' '{b}') of the tokenizer uses a token that is not in its vocabulary.");
            if (!vocab.TryGetValue(a + b, out var merged))
                throw new UnsupportedModelException($"Merge {rank} ('{a}' '{b}') of the tokenizer makes '{a + b}', which is not in its vocabulary.");
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
        // ConcurrentDictionary.Count takes every lock; a counter keeps the size check cheap.
        if (Interlocked.Increment(ref _cacheSize) > CacheLimit) { _cache.Clear(); Interlocked.Exchange(ref _cacheSize, 0); }
        _cache.TryAdd(word, ids);
        return ids;
    }

    /// <summary>
    /// Token ids of one GPT-2 pre-token given as the original text (not yet byte-mapped): the hot path of byte-level
    /// tokenizers, which looks the text up without allocating.
    /// </summary>
    public int[] EncodeByteLevel(ReadOnlySpan<char> raw)
    {
        if (raw.IsEmpty) return [];
        var lookup = _rawByteLevelCache.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(raw, out var cached)) return cached;
        var ids = EncodeUncached(ByteLevelAlphabet.Encode(raw));
        if (Interlocked.Increment(ref _rawCacheSize) > CacheLimit) { _rawByteLevelCache.Clear(); Interlocked.Exchange(ref _rawCacheSize, 0); }
        lookup.TryAdd(raw, ids);
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
            var piece = word.AsSpan(i, width);
            i += width;
            if (_vocabBySpan.TryGetValue(piece, out var id)) { symbols.Add(id); lastWasUnk = false; continue; }
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
                throw new UnsupportedModelException($"The tokenizer cannot represent the character '{piece.ToString()}': it is not in the vocabulary and the tokenizer has no unknown token.");
            if (!(_fuseUnk && lastWasUnk)) symbols.Add(unk);
            lastWasUnk = true;
        }
        if (symbols.Count < 2 || _merges.Count == 0) return [.. symbols];
        return symbols.Count <= 48 ? MergeShort(symbols) : MergeAll(symbols);
    }

    /// <summary>
    /// For short words: repeatedly merge the adjacent pair of lowest rank (leftmost on ties). That is the order in
    /// which <see cref="MergeAll"/>'s heap pops valid entries, without its allocations.
    /// </summary>
    private int[] MergeShort(List<int> symbols)
    {
        int n = symbols.Count;
        Span<int> id = stackalloc int[n];
        Span<int> rank = stackalloc int[n];
        Span<int> newId = stackalloc int[n];
        for (int i = 0; i < n; i++) id[i] = symbols[i];
        void Look(Span<int> id, Span<int> rank, Span<int> newId, int i)
        {
            if (_merges.TryGetValue(Key(id[i], id[i + 1]), out var m)) { rank[i] = m.Rank; newId[i] = m.NewId; }
            else rank[i] = int.MaxValue;
        }
        for (int i = 0; i + 1 < n; i++) Look(id, rank, newId, i);
        while (n > 1)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i + 1 < n; i++)
                if (rank[i] < bestRank) { bestRank = rank[i]; best = i; }
            if (best < 0) break;
            id[best] = newId[best];
            // Remove symbol best+1 and the pair that started there.
            for (int i = best + 1; i + 1 < n; i++) { id[i] = id[i + 1]; rank[i] = rank[i + 1]; newId[i] = newId[i + 1]; }
            n--;
            if (best > 0) Look(id, rank, newId, best - 1);
            if (best + 1 < n) Look(id, rank, newId, best);
        }
        return id[..n].ToArray();
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
