using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;

namespace SlmStudio.Core.Tokenization;

/// <summary>
/// Trains a byte-level BPE tokenizer (GPT-2 byte alphabet and pre-tokenization) and returns it as a Hugging Face
/// tokenizer.json pipeline. Ids: 0 beginning of text, 1 end of text, 2 padding, 3..258 the 256 bytes, then merges.
/// Pair counts are kept incrementally over the unique pre-tokenized words, with an index from each pair to the words
/// that contain it and a max-heap with lazily discarded stale counts, so a merge costs only the words it touches.
/// The result depends only on the input: same texts, same tokenizer.json, byte for byte.
/// </summary>
/// <param name="vocabSize">Total vocabulary size including the special tokens and the 256 bytes.</param>
/// <param name="minFrequency">Pairs seen fewer times than this are never merged, so a small text may yield a smaller vocabulary.</param>
/// <param name="lowercase">Learn from lower-cased text and write a Lowercase normalizer, so that "REFUND", "Refund" and
/// "refund" are one token for every reader of tokenizer.json (for classifiers: case rarely tells a label).</param>
public sealed class BpeTrainer(int vocabSize, int minFrequency = 2, bool lowercase = false)
{
    public const string BosToken = "<|begin_of_text|>";
    public const string EosToken = "<|end_of_text|>";
    public const string PadToken = "<|pad|>";
    public static IReadOnlyList<string> SpecialTokens { get; } = [BosToken, EosToken, PadToken];
    public static int MinimumVocabSize => SpecialTokens.Count + 256;

    public int VocabSize { get; } = vocabSize >= MinimumVocabSize ? vocabSize
        : throw new EngineException($"The tokenizer vocabulary size {vocabSize} is too small: it needs at least {MinimumVocabSize} " +
                                    $"(256 byte tokens plus {SpecialTokens.Count} special tokens). Choose a larger vocabulary size, for example 4096.");

    public int MinFrequency { get; } = Math.Max(1, minFrequency);

    private readonly JsonObject? _normalizerJson = lowercase ? new JsonObject { ["type"] = "Lowercase" } : null;

    private sealed class HeapOrder : IComparer<(long Count, long Pair)>
    {
        public static readonly HeapOrder Instance = new();
        // Highest count first; among equal counts the smallest pair, so ties break the same way on every run.
        public int Compare((long Count, long Pair) x, (long Count, long Pair) y) =>
            x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Pair.CompareTo(y.Pair);
    }

    private static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    public HfTokenizer Train(string text, CancellationToken cancellationToken = default) => Train([text], cancellationToken);

    /// <summary>Trains on <paramref name="texts"/> (whole documents: line breaks are part of what is learned).</summary>
    public HfTokenizer Train(IEnumerable<string> texts, CancellationToken cancellationToken = default)
    {
        // 1. Unique pre-tokenized words and how often each occurs.
        var wordCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        var lookup = wordCounts.GetAlternateLookup<ReadOnlySpan<char>>();
        // The normalizer tokenizer.json will name, so the merges are learned on the text the tokenizer will encode.
        var normalizer = Normalizer.Parse(_normalizerJson);
        foreach (var text in texts)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var normalized = normalizer?.Normalize(text) ?? text;
            foreach (var (start, length) in Gpt2PreTokenizer.Ranges(normalized))
                CollectionsMarshal.GetValueRefOrAddDefault(lookup, normalized.AsSpan(start, length), out _)++;
        }

        // 2. Each word as byte symbols, in a fixed order.
        var uniqueWords = wordCounts.Keys.ToArray();
        Array.Sort(uniqueWords, StringComparer.Ordinal);
        int wordCount = uniqueWords.Length;
        var symbols = new int[wordCount][];
        var lengths = new int[wordCount];
        var freq = new long[wordCount];
        for (int w = 0; w < wordCount; w++)
        {
            var bytes = Encoding.UTF8.GetBytes(uniqueWords[w]);
            symbols[w] = new int[bytes.Length];
            for (int i = 0; i < bytes.Length; i++) symbols[w][i] = SpecialTokens.Count + bytes[i];
            lengths[w] = bytes.Length;
            freq[w] = wordCounts[uniqueWords[w]];
        }
        wordCounts.Clear();

        var tokens = new List<string>(VocabSize);
        tokens.AddRange(SpecialTokens);
        for (int b = 0; b < 256; b++) tokens.Add(ByteLevelAlphabet.ByteToChar((byte)b).ToString());
        var tokenIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++) tokenIds[tokens[i]] = i;

        // 3. Initial pair counts and the pair -> words index.
        var pairCounts = new Dictionary<long, long>();
        var pairWords = new Dictionary<long, List<int>>();
        for (int w = 0; w < wordCount; w++)
        {
            var s = symbols[w];
            for (int i = 0; i + 1 < lengths[w]; i++)
            {
                long key = Key(s[i], s[i + 1]);
                CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, key, out _) += freq[w];
                AddWord(pairWords, key, w);
            }
        }
        var heap = new PriorityQueue<long, (long Count, long Pair)>(HeapOrder.Instance);
        foreach (var (key, count) in pairCounts) heap.Enqueue(key, (count, key));

        // 4. Merge the most frequent pair until the vocabulary is full.
        var merges = new List<(string A, string B)>();
        var delta = new Dictionary<long, long>();
        while (tokens.Count < VocabSize && heap.TryDequeue(out long pair, out var entry))
        {
            long current = pairCounts.GetValueOrDefault(pair);
            if (entry.Count != current)
            {
                if (current > 0) heap.Enqueue(pair, (current, pair));
                continue;
            }
            if (current < MinFrequency) break;
            if ((merges.Count & 63) == 0) cancellationToken.ThrowIfCancellationRequested();

            int a = (int)(pair >> 32), b = (int)(uint)pair;
            var merged = tokens[a] + tokens[b];
            if (!tokenIds.TryGetValue(merged, out int newId))
            {
                newId = tokens.Count;
                tokens.Add(merged);
                tokenIds[merged] = newId;
            }
            merges.Add((tokens[a], tokens[b]));

            delta.Clear();
            foreach (int w in pairWords[pair])
                MergeWord(symbols[w], ref lengths[w], a, b, newId, freq[w], w, delta, pairWords);
            pairWords.Remove(pair);
            foreach (var (key, d) in delta)
            {
                if (d == 0) continue;
                ref long count = ref CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, key, out _);
                count += d;
                if (d > 0) heap.Enqueue(key, (count, key));
            }
            pairCounts.Remove(pair);
        }

        return TokenizerFile.Parse(BuildJson(tokens, merges, _normalizerJson?.DeepClone()));
    }

    private static void AddWord(Dictionary<long, List<int>> pairWords, long key, int w)
    {
        ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(pairWords, key, out _);
        list ??= [];
        if (list.Count == 0 || list[^1] != w) list.Add(w);
    }

    /// <summary>Replaces every (a, b) in one word by <paramref name="newId"/>, left to right, and records the pair-count changes.</summary>
    private static void MergeWord(int[] s, ref int length, int a, int b, int newId, long freq, int w,
        Dictionary<long, long> delta, Dictionary<long, List<int>> pairWords)
    {
        bool found = false;
        for (int i = 0; i + 1 < length; i++)
            if (s[i] == a && s[i + 1] == b) { found = true; break; }
        if (!found) return; // a stale entry of the index: this word lost the pair to an earlier merge

        for (int i = 0; i + 1 < length; i++)
            CollectionsMarshal.GetValueRefOrAddDefault(delta, Key(s[i], s[i + 1]), out _) -= freq;
        int n = 0;
        for (int i = 0; i < length; i++)
        {
            if (i + 1 < length && s[i] == a && s[i + 1] == b) { s[n++] = newId; i++; }
            else s[n++] = s[i];
        }
        length = n;
        for (int i = 0; i + 1 < length; i++)
        {
            long key = Key(s[i], s[i + 1]);
            CollectionsMarshal.GetValueRefOrAddDefault(delta, key, out _) += freq;
            if (s[i] == newId || s[i + 1] == newId) AddWord(pairWords, key, w);
        }
    }

    private static JsonObject BuildJson(List<string> tokens, List<(string A, string B)> merges, JsonNode? normalizer)
    {
        var added = new JsonArray();
        for (int i = 0; i < SpecialTokens.Count; i++)
            added.Add(new JsonObject
            {
                ["id"] = i, ["content"] = SpecialTokens[i], ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            });
        var vocab = new JsonObject();
        for (int i = 0; i < tokens.Count; i++) vocab[tokens[i]] = i;
        var mergeArray = new JsonArray();
        foreach (var (a, b) in merges) mergeArray.Add($"{a} {b}");

        static JsonObject Special(string name, int typeId) => new() { ["SpecialToken"] = new JsonObject { ["id"] = name, ["type_id"] = typeId } };
        static JsonObject Sequence(string name, int typeId) => new() { ["Sequence"] = new JsonObject { ["id"] = name, ["type_id"] = typeId } };
        JsonObject ByteLevel() => new() { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };

        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = ByteLevel(),
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Special(BosToken, 0), Sequence("A", 0)),
                ["pair"] = new JsonArray(Special(BosToken, 0), Sequence("A", 0), Special(BosToken, 1), Sequence("B", 1)),
                ["special_tokens"] = new JsonObject
                {
                    [BosToken] = new JsonObject { ["id"] = BosToken, ["ids"] = new JsonArray(0), ["tokens"] = new JsonArray(BosToken) },
                },
            },
            ["decoder"] = ByteLevel(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["ignore_merges"] = false,
                ["vocab"] = vocab,
                ["merges"] = mergeArray,
            },
        };
    }
}
