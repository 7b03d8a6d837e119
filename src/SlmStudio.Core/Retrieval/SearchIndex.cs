using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lucene.Net.Documents;
using Lucene.Net.Index;
using Lucene.Net.Search;
using Lucene.Net.Search.Similarities;
using Lucene.Net.Store;
using LuceneDirectory = Lucene.Net.Store.Directory;

namespace SlmStudio.Core.Retrieval;

public sealed record IndexProgress(int Done, int Total);

public sealed record SearchIndexFile(string Name, string Sha256, long SizeBytes);

/// <summary>The content of <c>index.json</c>: what the index was built from and with, and the hash of every file.</summary>
public sealed record SearchIndexManifest(
    int FormatVersion,
    string Analyzer,
    string Similarity,
    int Passages,
    string PassagesSha256,
    DateTimeOffset CreatedAt,
    IReadOnlyList<SearchIndexFile> Files);

public sealed record SearchOptions
{
    /// <summary>
    /// The share of the question's weight (each question term weighted by its BM25 inverse document frequency) that a
    /// passage must contain to count as an answer candidate; see <see cref="SearchIndex"/>.
    /// </summary>
    public double MinQueryCoverage { get; init; } = 0.5;
    /// <summary>How many BM25 hits are checked against the coverage rule before the best are returned.</summary>
    public int Candidates { get; init; } = 50;
    /// <summary>About how long the snippet shown for a hit is, in characters.</summary>
    public int SnippetCharacters { get; init; } = 240;

    public static SearchOptions Default { get; } = new();
}

/// <summary>A stretch of text, as a start offset and a length in UTF-16 characters.</summary>
public readonly record struct TextSpan(int Start, int Length)
{
    public int End => Start + Length;
}

/// <summary>
/// A short piece of a passage around its matching words. The portal escapes <see cref="Text"/> and wraps each of
/// <see cref="Matches"/> (offsets into <see cref="Text"/>) in its own markup; nothing here is HTML.
/// </summary>
public sealed record Snippet(string Text, IReadOnlyList<TextSpan> Matches, bool CutAtStart, bool CutAtEnd)
{
    /// <summary>The snippet with every match between <paramref name="open"/> and <paramref name="close"/>, and "…" where it was cut.</summary>
    public string Marked(string open = "«", string close = "»") =>
        (CutAtStart ? "…" : "") + Highlighting.Mark(Text, Matches, open, close) + (CutAtEnd ? "…" : "");
}

/// <summary>
/// One passage found for a question. <see cref="Matches"/> are offsets into <c>Passage.Text</c>, <see cref="HeadingMatches"/>
/// into <c>Passage.Heading</c>. <see cref="QueryCoverage"/> is the share of the question's weight the passage contains.
/// </summary>
public sealed record SearchHit(
    int Rank,
    Passage Passage,
    double Score,
    double QueryCoverage,
    IReadOnlyList<TextSpan> Matches,
    IReadOnlyList<TextSpan> HeadingMatches,
    Snippet Snippet);

/// <summary>
/// The answer to a search. When <see cref="NoGoodMatch"/> is true, <see cref="Hits"/> is empty on purpose and
/// <see cref="Message"/> says so in plain words: weak matches are not shown as if they were answers.
/// </summary>
public sealed record SearchResults(string Question, IReadOnlyList<string> QueryTerms, IReadOnlyList<SearchHit> Hits, string? Message)
{
    public bool NoGoodMatch => Hits.Count == 0;

    public const string NoGoodMatchMessage =
        "None of the documents matches this question well enough to show. Try other words (the ones your documents would use), or add the document that answers it.";
    public const string NoSearchWordsMessage =
        "The question has no words to search for (only very common words like 'what' or 'the'). Add the words that matter, for example 'holiday carry over'.";
}

/// <summary>
/// A Lucene.NET index of passages, one per dataset version: BM25 ranking over English-stemmed text (see
/// <see cref="PassageAnalyzer"/>), every passage's source stored with it. Built once into a temporary folder and then
/// renamed into place, with <c>index.json</c> listing the SHA-256 of every file, so an index folder is either
/// complete or absent and can be checked with <see cref="Verify"/>.
/// </summary>
/// <remarks>
/// Relevance rule. BM25 scores are not comparable between questions (they grow with the number and rarity of the
/// question's words), so a fixed score floor would be wrong for both short and long questions. Instead a passage must
/// contain terms carrying at least <see cref="SearchOptions.MinQueryCoverage"/> (default half) of the question's
/// weight, each analysed question term (stop words removed, stemmed) weighted by its BM25 inverse document frequency
/// in this index, idf = ln(1 + (N − df + 0.5) / (df + 0.5)), where a word the documents never use counts as one used
/// once (the highest weight). So "What is the capital of Peru?" finds nothing when the documents use neither word, a
/// question whose only match is a word on every page ("employees", "company") does not pass, and a question whose
/// rare, specific words are in one passage passes however common its other words are. Known limit: in a two-word
/// question with one word absent from the documents, the other word decides alone (coverage exactly one half), so
/// "capital of Peru" would match a passage about "working capital"; telling such a word from an everyday one needs
/// knowledge of the language beyond these documents (the optional semantic search). When no passage passes, the
/// results are empty and say so.
/// </remarks>
public sealed class SearchIndex : IDisposable
{
    public const string ManifestName = "index.json";
    /// <summary>The usual name of the index folder inside a dataset version folder.</summary>
    public const string DefaultFolderName = "search-index";
    public const int FormatVersion = 1;
    internal const string ContentField = "content";

    private const string IdField = "id", FileField = "file", HeadingField = "heading", TextField = "text",
        PageField = "page", RowField = "row", LineField = "line";
    private const int MaxQueryTerms = 64;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    // Shared with PassagesFile: the file's bytes are what HashPassages hashes.
    internal static readonly JsonSerializerOptions PassageJson = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly LuceneDirectory directory;
    private readonly DirectoryReader reader;
    private readonly IndexSearcher searcher;
    private readonly PassageAnalyzer analyzer = new();

    public string Folder { get; }
    public SearchIndexManifest Manifest { get; }
    public int PassageCount => reader.NumDocs;

    private SearchIndex(string folder, SearchIndexManifest manifest)
    {
        Folder = folder;
        Manifest = manifest;
        directory = FSDirectory.Open(folder);
        try
        {
            reader = DirectoryReader.Open(directory);
        }
        catch (IOException e)
        {
            directory.Dispose();
            throw new EngineException($"The search index in '{folder}' is damaged or incomplete ({e.Message}). Delete the folder and build the index for this dataset version again.", e);
        }
        searcher = new IndexSearcher(reader) { Similarity = new BM25Similarity() };
    }

    /// <summary>
    /// Builds the index of <paramref name="passages"/> at <paramref name="indexFolder"/> and opens it. An existing
    /// complete index of the same passages is opened as it is (indexes are immutable); one of other passages is an error.
    /// </summary>
    public static SearchIndex Build(IReadOnlyList<Passage> passages, string indexFolder, IProgress<IndexProgress>? progress = null, CancellationToken ct = default)
    {
        var folder = Path.GetFullPath(indexFolder);
        var passagesHash = HashPassages(passages);
        if (System.IO.Directory.Exists(folder)) return OpenExisting(folder, passagesHash);

        var parent = Path.GetDirectoryName(folder)!;
        System.IO.Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, $".{Path.GetFileName(folder)}.building-{Guid.NewGuid():N}");
        try
        {
            using (var analyzer = new PassageAnalyzer())
            using (var dir = FSDirectory.Open(temp))
            {
                var config = new IndexWriterConfig(PassageAnalyzer.Version, analyzer)
                {
                    OpenMode = OpenMode.CREATE,
                    Similarity = new BM25Similarity(),
                };
                using var writer = new IndexWriter(dir, config);
                progress?.Report(new IndexProgress(0, passages.Count));
                for (int i = 0; i < passages.Count; i++)
                {
                    ct.ThrowIfCancellationRequested();
                    writer.AddDocument(ToDocument(passages[i]));
                    if ((i + 1) % 500 == 0) progress?.Report(new IndexProgress(i + 1, passages.Count));
                }
                // One segment: the smallest folder, and document numbers in passage order.
                writer.ForceMerge(1);
                writer.Commit();
            }
            ct.ThrowIfCancellationRequested();

            var files = System.IO.Directory.GetFiles(temp).Select(Path.GetFileName).Order(StringComparer.Ordinal)
                .Select(name => HashFile(Path.Combine(temp, name!))).ToList();
            var manifest = new SearchIndexManifest(FormatVersion, PassageAnalyzer.Name, nameof(BM25Similarity), passages.Count, passagesHash,
                DateTimeOffset.UtcNow, files);
            File.WriteAllText(Path.Combine(temp, ManifestName), JsonSerializer.Serialize(manifest, Json));
            try
            {
                System.IO.Directory.Move(temp, folder);
            }
            catch (IOException) when (System.IO.Directory.Exists(folder))
            {
                // Another build of the same version finished first; its index is used.
                return OpenExisting(folder, passagesHash);
            }
            progress?.Report(new IndexProgress(passages.Count, passages.Count));
            return new SearchIndex(folder, manifest);
        }
        finally
        {
            if (System.IO.Directory.Exists(temp)) System.IO.Directory.Delete(temp, recursive: true);
        }
    }

    public static SearchIndex Open(string indexFolder)
    {
        var folder = Path.GetFullPath(indexFolder);
        var manifestPath = Path.Combine(folder, ManifestName);
        if (!File.Exists(manifestPath))
            throw new EngineException($"'{indexFolder}' holds no search index (it has no {ManifestName}). Build the index for this dataset version again.");
        var manifest = JsonSerializer.Deserialize<SearchIndexManifest>(File.ReadAllText(manifestPath), Json)
            ?? throw new EngineException($"{manifestPath} is empty. Build the index for this dataset version again.");
        if (manifest.FormatVersion != FormatVersion || manifest.Analyzer != PassageAnalyzer.Name)
            throw new EngineException($"The search index in '{indexFolder}' was built by another version of SLM Studio. Build the index for this dataset version again.");
        return new SearchIndex(folder, manifest);
    }

    /// <summary>True when every file of the index still has the hash recorded when it was built, and nothing was added.</summary>
    public static bool Verify(string indexFolder)
    {
        var manifestPath = Path.Combine(indexFolder, ManifestName);
        if (!File.Exists(manifestPath)) return false;
        var manifest = JsonSerializer.Deserialize<SearchIndexManifest>(File.ReadAllText(manifestPath), Json);
        if (manifest is null) return false;
        var present = System.IO.Directory.GetFiles(indexFolder).Select(Path.GetFileName).Where(n => n != ManifestName).ToHashSet(StringComparer.Ordinal);
        return present.SetEquals(manifest.Files.Select(f => f.Name))
            && manifest.Files.All(f => HashFile(Path.Combine(indexFolder, f.Name)) == f);
    }

    /// <summary>SHA-256 over the passages as JSON lines: two indexes of the same passages have the same value.</summary>
    public static string HashPassages(IEnumerable<Passage> passages)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var p in passages) sha.AppendData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(p, PassageJson) + "\n"));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// The best passages for <paramref name="question"/>, at most <paramref name="top"/>, each with its BM25 score,
    /// matching words and a snippet; empty (with a message) when no passage is relevant enough (see the remarks above).
    /// Safe to call from many threads at once.
    /// </summary>
    public SearchResults Search(string question, int top = 5, SearchOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        options ??= SearchOptions.Default;
        var weights = Weigh(question);
        if (weights.Terms.Count == 0) return new SearchResults(question, weights.Terms, [], SearchResults.NoSearchWordsMessage);

        var query = new BooleanQuery();
        foreach (var t in weights.Terms) query.Add(new TermQuery(new Term(ContentField, t)), Occur.SHOULD);
        var found = searcher.Search(query, Math.Max(options.Candidates, top));

        var hits = new List<SearchHit>();
        foreach (var scored in found.ScoreDocs)
        {
            var hit = Describe(hits.Count + 1, FromDocument(searcher.Doc(scored.Doc)), scored.Score, weights, options);
            if (hit.QueryCoverage + 1e-9 < options.MinQueryCoverage) continue;
            hits.Add(hit);
            if (hits.Count == top) break;
        }
        return new SearchResults(question, weights.Terms, hits, hits.Count == 0 ? SearchResults.NoGoodMatchMessage : null);
    }

    /// <summary>The analysed question: its terms and each term's weight (see the remarks on the relevance rule).</summary>
    public sealed record QueryWeights(IReadOnlyList<string> Terms, IReadOnlyDictionary<string, double> Weight, double TotalWeight);

    /// <summary>The question's terms (stop words removed, stemmed) with their inverse document frequency in this index.</summary>
    public QueryWeights Weigh(string question)
    {
        var terms = analyzer.Tokens(question).Select(t => t.Term).Distinct(StringComparer.Ordinal).Take(MaxQueryTerms).ToList();
        int n = reader.NumDocs;
        var weight = terms.ToDictionary(t => t, t =>
        {
            // A word the documents never use counts as much as the rarest word they do use, not more: in a small
            // collection many ordinary words ("handle", "goes") are missing, and weighting them above the question's
            // document-specific words would turn every such question into "no good match".
            var df = Math.Max(1, reader.DocFreq(new Term(ContentField, t)));
            return Math.Log(1 + (n - df + 0.5) / (df + 0.5));
        }, StringComparer.Ordinal);
        return new QueryWeights(terms, weight, weight.Values.Sum());
    }

    /// <summary>
    /// A hit for <paramref name="passage"/> with the given rank and score: the question's words in its text and heading,
    /// the share of the question's weight it contains, and a snippet. Used for keyword hits and for passages another
    /// ranking (semantic search) brings in.
    /// </summary>
    public SearchHit Describe(int rank, Passage passage, double score, QueryWeights weights, SearchOptions? options = null)
    {
        options ??= SearchOptions.Default;
        var queryTerms = weights.Terms.ToHashSet(StringComparer.Ordinal);
        var textTokens = analyzer.Tokens(passage.Text).Where(t => queryTerms.Contains(t.Term)).ToList();
        var headingTokens = analyzer.Tokens(passage.Heading).Where(t => queryTerms.Contains(t.Term)).ToList();
        var matched = textTokens.Concat(headingTokens).Select(t => t.Term).ToHashSet(StringComparer.Ordinal);
        var coverage = weights.TotalWeight > 0 ? matched.Sum(t => weights.Weight[t]) / weights.TotalWeight : 0;
        var spans = textTokens.Select(t => new TextSpan(t.Start, t.End - t.Start)).ToList();
        return new SearchHit(rank, passage, score, coverage, spans,
            [.. headingTokens.Select(t => new TextSpan(t.Start, t.End - t.Start))],
            Highlighting.BestSnippet(passage.Text, spans, textTokens.Select(t => t.Term).ToList(), options.SnippetCharacters));
    }

    /// <summary>Every passage in the order it was indexed (documents in order, each from start to end), for showing a passage in its context.</summary>
    public IReadOnlyList<Passage> AllPassages()
    {
        var all = new List<Passage>(reader.MaxDoc);
        var live = MultiFields.GetLiveDocs(reader);
        for (int i = 0; i < reader.MaxDoc; i++)
            if (live is null || live.Get(i)) all.Add(FromDocument(reader.Document(i)));
        return all;
    }

    public void Dispose()
    {
        analyzer.Dispose();
        reader.Dispose();
        directory.Dispose();
    }

    private static SearchIndex OpenExisting(string folder, string passagesHash)
    {
        var index = Open(folder);
        if (index.Manifest.PassagesSha256 != passagesHash)
        {
            index.Dispose();
            throw new EngineException($"'{folder}' already holds a search index of other documents. A dataset version's index never changes: build into a new folder.");
        }
        return index;
    }

    private static Document ToDocument(Passage p)
    {
        var doc = new Document
        {
            new StringField(IdField, p.Id, Field.Store.YES),
            new StoredField(FileField, p.File),
            new StoredField(HeadingField, JsonSerializer.Serialize(p.HeadingPath)),
            new StoredField(TextField, p.Text),
            // The heading path is searched with the text: a question often names the section ("parental leave")
            // rather than the words of the paragraph under it.
            new TextField(ContentField, p.Heading + "\n" + p.Text, Field.Store.NO),
        };
        if (p.Page is { } page) doc.Add(new StoredField(PageField, page));
        if (p.Row is { } row) doc.Add(new StoredField(RowField, row));
        if (p.Line is { } line) doc.Add(new StoredField(LineField, line));
        return doc;
    }

    private static Passage FromDocument(Document d) => new(
        d.Get(IdField),
        d.Get(FileField),
        JsonSerializer.Deserialize<string[]>(d.Get(HeadingField)) ?? [],
        d.Get(TextField),
        d.GetField(PageField)?.GetInt32Value(),
        d.GetField(RowField)?.GetInt32Value(),
        d.GetField(LineField)?.GetInt32Value());

    private static SearchIndexFile HashFile(string path)
    {
        using var s = File.OpenRead(path);
        return new SearchIndexFile(Path.GetFileName(path), Convert.ToHexStringLower(SHA256.HashData(s)), s.Length);
    }
}
