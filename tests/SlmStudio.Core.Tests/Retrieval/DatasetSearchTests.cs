using SlmStudio.Core.Data;
using SlmStudio.Core.Retrieval;
using SlmStudio.Core.Tests.Data;

namespace SlmStudio.Core.Tests.Retrieval;

/// <summary>The handbook read and reviewed once; each test freezes it into its own datasets folder.</summary>
public sealed class ReviewedHandbook : IDisposable
{
    private readonly TempFolder folder = new();
    public DatasetSettings Settings { get; } = new();
    public PreparationReview Review { get; }

    public ReviewedHandbook() => Review = DatasetBuilder.Review(HandbookCorpus.Extract(folder), Settings);

    public void Dispose() => folder.Dispose();
}

public sealed class DatasetSearchTests(ReviewedHandbook handbook) : IClassFixture<ReviewedHandbook>, IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    private DatasetVersion FreezeWithSearch(string root = "datasets", IProgress<DataProgress>? progress = null) =>
        DatasetSearch.Freeze(handbook.Review, handbook.Settings, temp.File(root), progress);

    [Fact]
    public void Freezing_writes_hashed_passages_and_an_index_without_changing_the_version_id()
    {
        var stages = new List<DataProgress>();
        var version = FreezeWithSearch(progress: new SynchronousProgress<DataProgress>(stages.Add));
        var plain = DatasetBuilder.Freeze(handbook.Review, handbook.Settings, temp.File("plain"));

        // The id stays what the training files and sources make it, with or without search.
        Assert.Equal(plain.Id, version.Id);
        Assert.Equal(plain.ContentSha256, version.ContentSha256);
        var passages = Assert.Single(version.Files, f => f.Name == DatasetSearch.PassagesFileName);
        Assert.Equal(DocumentExtractor.HashFile(DatasetSearch.PassagesPath(version.Folder)).Sha256, passages.Sha256);
        var loaded = DatasetVersion.Load(version.Folder);
        Assert.Contains(loaded.Files, f => f == passages);
        Assert.True(loaded.Verify());

        // The passages are those of the reviewed records, and the index is of exactly them.
        var written = PassagesFile.Read(DatasetSearch.PassagesPath(version.Folder));
        Assert.Equal(PassageSplitter.Split(handbook.Review), written);
        Assert.Equal(SearchIndex.HashPassages(written), passages.Sha256);
        Assert.True(SearchIndex.Verify(DatasetSearch.IndexFolder(version.Folder)));
        Assert.Equal(DatasetSearchState.Ready, DatasetSearch.Check(version.Folder));
        Assert.Contains(stages, s => s.Stage == "passages");
        Assert.Equal(new DataProgress("index", written.Count, written.Count), stages.Last(s => s.Stage == "index"));
        // Nothing is left of the temporary folders.
        Assert.Equal([version.Id], Directory.GetFileSystemEntries(temp.File("datasets")).Select(Path.GetFileName));

        using var index = DatasetSearch.Open(version.Folder);
        var top = index.Search("How do we handle moonlighting?").Hits[0];
        Assert.Equal(("handbook.md", "Employee Handbook › Second jobs and outside work"), (top.Passage.File, top.Passage.Heading));
    }

    [Fact]
    public void A_missing_or_damaged_index_is_built_again_from_the_passages()
    {
        var version = FreezeWithSearch();
        var indexFolder = DatasetSearch.IndexFolder(version.Folder);
        Directory.Delete(indexFolder, recursive: true);
        Assert.Equal(DatasetSearchState.IndexNeedsBuilding, DatasetSearch.Check(version.Folder));
        var progress = new List<IndexProgress>();
        using (var rebuilt = DatasetSearch.Open(version.Folder, new SynchronousProgress<IndexProgress>(progress.Add)))
            Assert.NotEmpty(rebuilt.Search("first aid kits").Hits);
        Assert.NotEmpty(progress);
        Assert.Equal(DatasetSearchState.Ready, DatasetSearch.Check(version.Folder));

        // A changed index file: the manifest no longer verifies, so the index is replaced.
        var victim = Directory.GetFiles(indexFolder).First(f => !f.EndsWith(SearchIndex.ManifestName, StringComparison.Ordinal));
        File.AppendAllText(victim, "x");
        Assert.Equal(DatasetSearchState.IndexNeedsBuilding, DatasetSearch.Check(version.Folder));
        using (var repaired = DatasetSearch.Open(version.Folder)) Assert.NotEmpty(repaired.Search("moonlighting").Hits);
        Assert.True(SearchIndex.Verify(indexFolder));
        Assert.Equal([SearchIndex.DefaultFolderName], Directory.GetDirectories(version.Folder).Select(Path.GetFileName));

        // An intact index is opened as it is, not built again.
        progress.Clear();
        using (DatasetSearch.Open(version.Folder, new SynchronousProgress<IndexProgress>(progress.Add))) { }
        Assert.Empty(progress);
    }

    [Fact]
    public async Task Concurrent_opens_of_a_missing_index_build_it_once_and_all_can_search()
    {
        var version = FreezeWithSearch();
        Directory.Delete(DatasetSearch.IndexFolder(version.Folder), recursive: true);
        int builds = 0;
        var counting = new SynchronousProgress<IndexProgress>(p => { if (p.Done == 0) Interlocked.Increment(ref builds); });
        var opened = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => DatasetSearch.Open(version.Folder, counting))));
        try
        {
            Assert.All(opened, index => Assert.NotEmpty(index.Search("moonlighting").Hits));
            Assert.Equal(1, builds);
        }
        finally
        {
            foreach (var index in opened) index.Dispose();
        }
    }

    [Fact]
    public void A_version_frozen_without_passages_says_to_freeze_again_and_freezing_again_adds_them()
    {
        var root = temp.File("datasets");
        var old = DatasetBuilder.Freeze(handbook.Review, handbook.Settings, root);
        Assert.Equal(DatasetSearchState.NoPassages, DatasetSearch.Check(old.Folder));
        var error = Assert.Throws<DatasetSearchUnavailableException>(() => DatasetSearch.Open(old.Folder));
        Assert.Equal(DatasetSearchState.NoPassages, error.State);
        Assert.Equal(DatasetSearch.NoPassagesMessage, error.Message);
        Assert.False(Directory.Exists(DatasetSearch.IndexFolder(old.Folder)));

        var again = FreezeWithSearch();
        Assert.Equal(old.Folder, again.Folder);
        Assert.Equal(old.Id, again.Id);
        Assert.Equal(old.CreatedAt, again.CreatedAt);
        // The training files are the same files, and the passages are now recorded beside them.
        Assert.Equal(old.Files, again.Files.Where(f => f.Name != DatasetSearch.PassagesFileName));
        Assert.Equal(DatasetSearchState.Ready, DatasetSearch.Check(old.Folder));
        Assert.True(DatasetVersion.Load(old.Folder).Verify());
    }

    [Fact]
    public void Changed_passages_cannot_be_searched_until_frozen_again()
    {
        var version = FreezeWithSearch();
        var path = DatasetSearch.PassagesPath(version.Folder);
        File.WriteAllLines(path, File.ReadAllLines(path).Skip(1));
        Assert.Equal(DatasetSearchState.PassagesChanged, DatasetSearch.Check(version.Folder));
        var error = Assert.Throws<DatasetSearchUnavailableException>(() => DatasetSearch.Open(version.Folder));
        Assert.Equal(DatasetSearch.PassagesChangedMessage, error.Message);

        File.Delete(path);
        Assert.Equal(DatasetSearchState.PassagesChanged, DatasetSearch.Check(version.Folder));

        FreezeWithSearch();
        Assert.Equal(DatasetSearchState.Ready, DatasetSearch.Check(version.Folder));
        Assert.True(DatasetVersion.Load(version.Folder).Verify());
    }
}
