using System.Text.Json;
using SlmStudio.Core.Data;

namespace SlmStudio.Core.Retrieval;

/// <summary>Whether a dataset version can be searched, and if not, what it takes.</summary>
public enum DatasetSearchState
{
    /// <summary>The passages and a complete index of them are there.</summary>
    Ready,
    /// <summary>The passages are there but the index is missing, damaged or of other passages: <see cref="DatasetSearch.Open"/> builds it again.</summary>
    IndexNeedsBuilding,
    /// <summary>The version was frozen before search existed (no <c>passages.jsonl</c>): freeze the same documents again.</summary>
    NoPassages,
    /// <summary><c>passages.jsonl</c> is gone or no longer has the hash recorded in <c>dataset.json</c>: freeze the same documents again.</summary>
    PassagesChanged,
}

/// <summary>A dataset version that cannot be searched until its documents are frozen again; the message says so in plain words.</summary>
public sealed class DatasetSearchUnavailableException(DatasetSearchState state, string message) : EngineException(message)
{
    public DatasetSearchState State { get; } = state;
}

/// <summary>
/// The search over a dataset version's documents, kept in the version folder: <c>passages.jsonl</c> (recorded with
/// its SHA-256 in <c>dataset.json</c> like the training files, though not part of the version's id) and the Lucene
/// index <c>search-index/</c> built from it. The index is derived data: it is checked against its own manifest
/// (every file's hash, and the passage hash that must equal the recorded hash of <c>passages.jsonl</c>) and rebuilt
/// from the passages when it is missing or damaged. Without intact passages nothing can be rebuilt: the documents
/// must be frozen again, which adds the passages to the existing folder and leaves its training data as it is.
/// </summary>
public static class DatasetSearch
{
    public const string PassagesFileName = "passages.jsonl";

    public const string NoPassagesMessage =
        "This dataset version was frozen before searching documents was possible, so it has no passages to search. Freeze the same documents again (prepare the data again) to add search to it; its training data stays the same.";
    public const string PassagesChangedMessage =
        "The document passages of this dataset version are missing or were changed after it was frozen, so its search index cannot be rebuilt. Freeze the same documents again (prepare the data again) to restore them.";

    public static string PassagesPath(string versionFolder) => Path.Combine(versionFolder, PassagesFileName);

    public static string IndexFolder(string versionFolder) => Path.Combine(versionFolder, SearchIndex.DefaultFolderName);

    /// <summary>Where the passage vectors of one model are kept in a dataset version folder (see <see cref="SemanticIndex"/> for why there).</summary>
    public static string SemanticFolder(string versionFolder, string modelKey) => Path.Combine(versionFolder, "semantic-index", modelKey[..16]);

    /// <summary>
    /// <see cref="DatasetBuilder.Freeze"/> with the search: the passages of <paramref name="review"/> and their index
    /// are written into the new version folder before it is renamed into place. When the version already exists
    /// without intact passages (frozen by an older SLM Studio, or damaged), they are added to it and recorded in its
    /// <c>dataset.json</c>; its id and training files do not change.
    /// </summary>
    public static DatasetVersion Freeze(PreparationReview review, DatasetSettings settings, string datasetsRoot,
        IProgress<DataProgress>? progress = null, CancellationToken ct = default, TimeProvider? clock = null)
    {
        var version = DatasetBuilder.Freeze(review, settings, datasetsRoot, progress, ct, clock,
            (folder, token) => [WriteSearchFiles(review, folder, progress, token)]);
        return PassagesState(version, out _) == DatasetSearchState.Ready ? version : AddSearchToExisting(version, review, progress, ct);
    }

    /// <summary>Writes <c>passages.jsonl</c> and <c>search-index/</c> for <paramref name="review"/> into <paramref name="folder"/>; returns the passages file to record.</summary>
    public static DatasetFile WriteSearchFiles(PreparationReview review, string folder, IProgress<DataProgress>? progress = null, CancellationToken ct = default)
    {
        progress?.Report(new DataProgress("passages", 0, 1));
        var passages = PassageSplitter.Split(review);
        var path = PassagesPath(folder);
        PassagesFile.Write(path, passages);
        progress?.Report(new DataProgress("passages", 1, 1));
        BuildIndex(passages, folder, progress, ct);
        var (hash, size) = DocumentExtractor.HashFile(path);
        return new DatasetFile(PassagesFileName, hash, size);
    }

    /// <summary>What searching <paramref name="versionFolder"/> needs now; checks every hash, so call it once, not per question.</summary>
    public static DatasetSearchState Check(string versionFolder)
    {
        var version = DatasetVersion.Load(versionFolder);
        var state = PassagesState(version, out var recorded);
        if (state != DatasetSearchState.Ready) return state;
        using var index = TryOpenIntact(IndexFolder(version.Folder), recorded!.Sha256);
        return index is null ? DatasetSearchState.IndexNeedsBuilding : DatasetSearchState.Ready;
    }

    /// <summary>
    /// Opens the search index of a dataset version after checking it, building it again from <c>passages.jsonl</c>
    /// when it is missing or damaged (with <paramref name="progress"/>). Throws
    /// <see cref="DatasetSearchUnavailableException"/> when the passages themselves are missing or changed.
    /// </summary>
    public static SearchIndex Open(string versionFolder, IProgress<IndexProgress>? progress = null, CancellationToken ct = default)
    {
        var version = DatasetVersion.Load(versionFolder);
        var state = PassagesState(version, out var recorded);
        if (state != DatasetSearchState.Ready)
            throw new DatasetSearchUnavailableException(state, state == DatasetSearchState.NoPassages ? NoPassagesMessage : PassagesChangedMessage);
        var indexFolder = IndexFolder(version.Folder);
        if (TryOpenIntact(indexFolder, recorded!.Sha256) is { } intact) return intact;
        // One rebuild at a time per version in this process: a second caller waits and then opens the first one's
        // index instead of setting it aside as damaged while it is being used.
        lock (RebuildLocks.GetOrAdd(indexFolder, _ => new Lock()))
        {
            if (TryOpenIntact(indexFolder, recorded.Sha256) is { } builtMeanwhile) return builtMeanwhile;
            SetAside(indexFolder);
            return SearchIndex.Build(PassagesFile.Read(PassagesPath(version.Folder)), indexFolder, progress, ct);
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lock> RebuildLocks = new(StringComparer.Ordinal);

    private static DatasetSearchState PassagesState(DatasetVersion version, out DatasetFile? recorded)
    {
        recorded = version.Files.FirstOrDefault(f => f.Name == PassagesFileName);
        if (recorded is null) return DatasetSearchState.NoPassages;
        var path = PassagesPath(version.Folder);
        return File.Exists(path) && DocumentExtractor.HashFile(path).Sha256 == recorded.Sha256
            ? DatasetSearchState.Ready
            : DatasetSearchState.PassagesChanged;
    }

    private static SearchIndex? TryOpenIntact(string indexFolder, string passagesSha256)
    {
        if (!Directory.Exists(indexFolder)) return null;
        try
        {
            if (!SearchIndex.Verify(indexFolder)) return null;
            var index = SearchIndex.Open(indexFolder);
            if (index.Manifest.PassagesSha256 == passagesSha256) return index;
            index.Dispose();
            return null;
        }
        catch (Exception e) when (e is EngineException or JsonException or IOException)
        {
            return null;
        }
    }

    /// <summary>Moves a damaged index out of the way before deleting it, so that no reader ever sees half of one.</summary>
    private static void SetAside(string indexFolder)
    {
        if (!Directory.Exists(indexFolder)) return;
        var aside = Path.Combine(Path.GetDirectoryName(indexFolder)!, $".{Path.GetFileName(indexFolder)}.damaged-{Guid.NewGuid():N}");
        try
        {
            Directory.Move(indexFolder, aside);
        }
        catch (IOException) when (!Directory.Exists(indexFolder))
        {
            return; // someone else moved it first
        }
        Directory.Delete(aside, recursive: true);
    }

    private static void BuildIndex(IReadOnlyList<Passage> passages, string versionFolder, IProgress<DataProgress>? progress, CancellationToken ct)
    {
        var indexProgress = progress is null ? null : new MappedProgress(p => progress.Report(new DataProgress("index", p.Done, p.Total)));
        SearchIndex.Build(passages, IndexFolder(versionFolder), indexProgress, ct).Dispose();
    }

    private static DatasetVersion AddSearchToExisting(DatasetVersion version, PreparationReview review, IProgress<DataProgress>? progress, CancellationToken ct)
    {
        var indexFolder = IndexFolder(version.Folder);
        // An index left from earlier passages belongs to nothing once they are replaced.
        SetAside(indexFolder);
        var passagesFile = WriteSearchFiles(review, version.Folder, progress, ct);
        var updated = version with { Files = [.. version.Files.Where(f => f.Name != PassagesFileName), passagesFile] };
        AtomicFile.WriteAllText(Path.Combine(version.Folder, DatasetVersion.ManifestName), JsonSerializer.Serialize(updated, DatasetVersion.Json));
        return updated;
    }

    /// <summary>Reports on the calling thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class MappedProgress(Action<IndexProgress> report) : IProgress<IndexProgress>
    {
        public void Report(IndexProgress value) => report(value);
    }
}
