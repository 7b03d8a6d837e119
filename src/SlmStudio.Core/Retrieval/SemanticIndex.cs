using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;

namespace SlmStudio.Core.Retrieval;

/// <summary>The content of <c>vectors.json</c>: which passages and which model the vectors are of, and the vectors' hash.</summary>
public sealed record SemanticIndexManifest(
    int FormatVersion,
    string Pooling,
    string ModelKey,
    string PassagesSha256,
    int Passages,
    int Dimension,
    string VectorsSha256,
    DateTimeOffset CreatedAt);

/// <summary>
/// The passages of a search index as vectors of one model (<see cref="PassageEncoder"/>), for semantic search.
/// </summary>
/// <remarks>
/// Where the vectors live: in the dataset version folder, under <c>semantic-index/&lt;model key&gt;/</c>, beside the
/// keyword index (<see cref="DatasetSearch.SemanticFolder"/>). They depend on both the passages and the model, but a
/// registered model's folder is immutable and downloaded exactly as registered (its hashes are checked on every load
/// and download), and one model can search many dataset versions; a dataset version already holds derived, checked,
/// rebuildable data (the keyword index), and deleting the version deletes its vectors with it. Like the keyword index,
/// the vectors are built once into a temporary folder and renamed into place, checked against their manifest
/// (passages hash, model key, vectors hash) on opening, and built again when they do not match.
/// </remarks>
public sealed class SemanticIndex
{
    public const string VectorsFile = "vectors.f32";
    public const string ManifestName = "vectors.json";
    public const int FormatVersion = 1;
    public const string Pooling = "mean of last hidden states after the final norm, beginning-of-text token excluded, unit length";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private readonly float[] _vectors;

    public SemanticIndexManifest Manifest { get; }
    /// <summary>The passages in index order; row i of the vectors is passage i.</summary>
    public IReadOnlyList<Passage> Passages { get; }

    private SemanticIndex(SemanticIndexManifest manifest, IReadOnlyList<Passage> passages, float[] vectors)
    {
        Manifest = manifest;
        Passages = passages;
        _vectors = vectors;
    }

    /// <summary>
    /// Opens the vectors of <paramref name="index"/>'s passages made by <paramref name="encoder"/> in <paramref name="folder"/>,
    /// or encodes every passage and writes them there when they are missing, damaged or of other passages or another model.
    /// </summary>
    public static SemanticIndex OpenOrBuild(SearchIndex index, PassageEncoder encoder, string folder, IProgress<IndexProgress>? progress = null, CancellationToken ct = default)
    {
        folder = Path.GetFullPath(folder);
        var passages = index.AllPassages();
        if (TryOpen(folder, index.Manifest.PassagesSha256, encoder, passages) is { } existing) return existing;

        var parent = Path.GetDirectoryName(folder)!;
        Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, $".{Path.GetFileName(folder)}.building-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            var vectors = new float[passages.Count * encoder.Dimension];
            progress?.Report(new IndexProgress(0, passages.Count));
            for (int i = 0; i < passages.Count; i++)
            {
                ct.ThrowIfCancellationRequested();
                encoder.Encode(PassageEncoder.TextOf(passages[i])).CopyTo(vectors, i * encoder.Dimension);
                if ((i + 1) % 100 == 0) progress?.Report(new IndexProgress(i + 1, passages.Count));
            }
            var bytes = ToBytes(vectors);
            File.WriteAllBytes(Path.Combine(temp, VectorsFile), bytes);
            var manifest = new SemanticIndexManifest(FormatVersion, Pooling, encoder.ModelKey, index.Manifest.PassagesSha256, passages.Count,
                encoder.Dimension, Convert.ToHexStringLower(SHA256.HashData(bytes)), DateTimeOffset.UtcNow);
            File.WriteAllText(Path.Combine(temp, ManifestName), JsonSerializer.Serialize(manifest, Json));
            // A stale or damaged folder is replaced; a reader that still has it open keeps its own copy in memory.
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            try
            {
                Directory.Move(temp, folder);
            }
            catch (IOException) when (Directory.Exists(folder))
            {
                // Another process built the same vectors first; theirs are as good as ours.
            }
            progress?.Report(new IndexProgress(passages.Count, passages.Count));
            return new SemanticIndex(manifest, passages, vectors);
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>
    /// The <paramref name="top"/> passages closest to <paramref name="query"/> (a unit vector of the same encoder) by
    /// cosine, best first, as (row, cosine). An exact scan: a dataset version's passages fit in memory, and a scan of
    /// a few hundred thousand vectors takes milliseconds.
    /// </summary>
    public IReadOnlyList<(int Row, float Cosine)> Nearest(ReadOnlySpan<float> query, int top)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        var dim = Manifest.Dimension;
        if (query.Length != dim) throw new ArgumentException($"The question vector has {query.Length} values; these passages have {dim}.", nameof(query));
        var best = new PriorityQueue<int, float>(top + 1);
        for (int row = 0; row < Manifest.Passages; row++)
        {
            var cosine = Dot(query, _vectors.AsSpan(row * dim, dim));
            best.Enqueue(row, cosine);
            if (best.Count > top) best.Dequeue();
        }
        var result = new List<(int, float)>(best.Count);
        while (best.TryDequeue(out var row, out var cosine)) result.Add((row, cosine));
        result.Reverse();
        return result;
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var width = System.Numerics.Vector<float>.Count;
        var sum = System.Numerics.Vector<float>.Zero;
        int i = 0;
        for (; i <= a.Length - width; i += width)
            sum += new System.Numerics.Vector<float>(a[i..]) * new System.Numerics.Vector<float>(b[i..]);
        var total = System.Numerics.Vector.Sum(sum);
        for (; i < a.Length; i++) total += a[i] * b[i];
        return total;
    }

    private static SemanticIndex? TryOpen(string folder, string passagesSha256, PassageEncoder encoder, IReadOnlyList<Passage> passages)
    {
        var manifestPath = Path.Combine(folder, ManifestName);
        var vectorsPath = Path.Combine(folder, VectorsFile);
        if (!File.Exists(manifestPath) || !File.Exists(vectorsPath)) return null;
        try
        {
            var manifest = JsonSerializer.Deserialize<SemanticIndexManifest>(File.ReadAllText(manifestPath), Json);
            if (manifest is null || manifest.FormatVersion != FormatVersion || manifest.ModelKey != encoder.ModelKey
                || manifest.PassagesSha256 != passagesSha256 || manifest.Passages != passages.Count || manifest.Dimension != encoder.Dimension)
                return null;
            var bytes = File.ReadAllBytes(vectorsPath);
            if (bytes.Length != (long)manifest.Passages * manifest.Dimension * sizeof(float)
                || Convert.ToHexStringLower(SHA256.HashData(bytes)) != manifest.VectorsSha256)
                return null;
            return new SemanticIndex(manifest, passages, FromBytes(bytes));
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            return null;
        }
    }

    // Little-endian on every machine, so a vectors file means the same wherever it is read.
    private static byte[] ToBytes(float[] values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        return bytes;
    }

    private static float[] FromBytes(byte[] bytes)
    {
        var values = new float[bytes.Length / sizeof(float)];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
        return values;
    }
}

/// <summary>
/// Keyword search (BM25) and semantic search combined by reciprocal rank fusion: each passage scores
/// Σ 1 / (<see cref="RrfK"/> + rank) over the two rankings (Cormack, Clarke and Büttcher, 2009), so neither list's raw
/// scores need to be comparable. The "no good match" rule stays the keyword search's: a cosine has no meaningful floor,
/// so when no passage contains enough of the question's words nothing is shown, as with BM25 alone. Once something
/// matches, passages that only the model finds close can join the list (with their keyword coverage as it is).
/// </summary>
public static class HybridSearch
{
    public const int RrfK = 60;

    public static SearchResults Search(SearchIndex index, SemanticIndex semantic, PassageEncoder encoder, string question, int top = 5, SearchOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        options ??= SearchOptions.Default;
        var depth = Math.Max(options.Candidates, top);
        var keyword = index.Search(question, depth, options);
        if (keyword.NoGoodMatch) return keyword;

        var nearest = semantic.Nearest(encoder.Encode(question), depth);
        var fused = Fuse([.. keyword.Hits.Select(h => h.Passage.Id)], [.. nearest.Select(n => semantic.Passages[n.Row].Id)]);
        var keywordHits = keyword.Hits.ToDictionary(h => h.Passage.Id, StringComparer.Ordinal);
        var byId = semantic.Passages.ToDictionary(p => p.Id, StringComparer.Ordinal);
        var weights = index.Weigh(question);
        var hits = fused.Take(top).Select((f, i) => keywordHits.TryGetValue(f.Id, out var hit)
                ? hit with { Rank = i + 1, Score = f.Score }
                : index.Describe(i + 1, byId[f.Id], f.Score, weights, options))
            .ToList();
        return new SearchResults(question, keyword.QueryTerms, hits, null);
    }

    /// <summary>Reciprocal rank fusion of rankings of ids (best first): every id with its fused score, best first; ties keep the first ranking's order.</summary>
    public static IReadOnlyList<(string Id, double Score)> Fuse(params IReadOnlyList<string>[] rankings)
    {
        var score = new Dictionary<string, double>(StringComparer.Ordinal);
        var firstSeen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var ranking in rankings)
            for (int r = 0; r < ranking.Count; r++)
            {
                score[ranking[r]] = score.GetValueOrDefault(ranking[r]) + 1.0 / (RrfK + r + 1);
                firstSeen.TryAdd(ranking[r], firstSeen.Count);
            }
        return [.. score.OrderByDescending(kv => kv.Value).ThenBy(kv => firstSeen[kv.Key]).Select(kv => (kv.Key, kv.Value))];
    }
}
