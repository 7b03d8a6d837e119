using System.IO.Compression;
using System.Net;
using SlmStudio.Core.Export;
using SlmStudio.Core.Retrieval;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>A registered version downloaded with the search index of the data it was trained on, and semantic search with that version.</summary>
public sealed class AskDownloadTests
{
    private static string Fixture(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SlmStudio.sln"))) return Path.Combine(dir.Parent!.FullName, "shared", "fixtures", name);
        throw new InvalidOperationException("Run the tests from inside the repository.");
    }

    /// <summary>A web host with the sample documents frozen and version 1 (tiny-llama exported) registered as trained on them.</summary>
    private static async Task<(StudioTestHost Host, ModelVersion Version, DatasetVersionRecord Dataset)> StartAsync(bool linkDataset = true)
    {
        var host = await StudioTestHost.StartAsync(web: true);
        var project = await host.AddProjectAsync("Brightwater Handbook");
        var uploads = host.Get<DataUploads>();
        Assert.True(await uploads.AddSampleDataAsync(project.Id, default) > 0);
        var preparation = host.Get<DataPreparation>();
        await preparation.ExtractAsync(project.Id, default);
        await preparation.FreezeAsync(await preparation.ReviewAsync(project.Id), "tester");
        var dataset = (await host.Get<DocumentSearch>().DatasetOfAsync(project.Id))!;
        TrainingRun run;
        await using (var db = await host.DbAsync())
        {
            run = new TrainingRun { ProjectId = project.Id, CreatedBy = "tester" };
            db.Runs.Add(run);
            await db.SaveChangesAsync();
        }
        var staged = Path.Combine(host.Root, "staged");
        ModelExporter.Export(Fixture("tiny-llama-hf"), staged);
        var version = await host.Get<ModelRegistry>().RegisterAsync(run, staged, v =>
        {
            if (linkDataset) v.DatasetVersionId = dataset.Id;
            return Task.CompletedTask;
        });
        await host.AddUserAsync("admin@example.com", StudioRoles.Administrator);
        return (host, version, dataset);
    }

    [Fact]
    public async Task A_download_with_the_index_holds_the_model_and_a_search_index_that_ask_can_open()
    {
        var (host, version, dataset) = await StartAsync();
        await using var owned = host;
        using var client = await host.ClientAsync("admin@example.com");

        using var plain = await client.GetAsync($"/api/versions/{version.Id}/download");
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        using (var zip = new ZipArchive(await plain.Content.ReadAsStreamAsync()))
            Assert.DoesNotContain(zip.Entries, e => e.FullName.StartsWith("search-index/", StringComparison.Ordinal));

        using var response = await client.GetAsync($"/api/versions/{version.Id}/download?withIndex=true");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.EndsWith("-v1-with-index.zip", response.Content.Headers.ContentDisposition!.FileName!.Trim('"'));
        var unzipped = Path.Combine(host.Root, "unzipped");
        using (var zip = new ZipArchive(await response.Content.ReadAsStreamAsync()))
        {
            var names = zip.Entries.Select(e => e.FullName).ToHashSet();
            // The registered files are all there, and the index beside them.
            Assert.Superset(ModelRegistry.RecordedHashes(version).Keys.Append(ModelRegistry.ManifestFile).ToHashSet(), names);
            Assert.Contains("search-index/dataset.json", names);
            Assert.Contains("search-index/passages.jsonl", names);
            Assert.Contains("search-index/search-index/index.json", names);
            // The training text is not part of the index download.
            Assert.DoesNotContain(names, n => n.EndsWith("train.txt", StringComparison.Ordinal));
            zip.ExtractToDirectory(unzipped);
        }

        // Byte for byte the frozen version's passages and index, and searchable as 'slm ask' opens it.
        var frozen = host.Get<DataPreparation>().FolderOf(dataset);
        var downloaded = Path.Combine(unzipped, "search-index");
        Assert.Equal(File.ReadAllBytes(DatasetSearch.PassagesPath(frozen)), File.ReadAllBytes(DatasetSearch.PassagesPath(downloaded)));
        Assert.Equal(DatasetSearchState.Ready, DatasetSearch.Check(downloaded));
        Assert.True(SearchIndex.Verify(DatasetSearch.IndexFolder(downloaded)));
        using var index = DatasetSearch.Open(downloaded);
        var results = index.Search("How many days of paid holiday do full-time employees get?", 3);
        Assert.Contains(results.Hits, h => h.Passage.Text.Contains("26 days of paid holiday"));
    }

    [Fact]
    public async Task A_version_not_trained_on_frozen_data_has_no_index_to_include_and_says_so()
    {
        var (host, version, _) = await StartAsync(linkDataset: false);
        await using var owned = host;
        using var client = await host.ClientAsync("admin@example.com");
        using var response = await client.GetAsync($"/api/versions/{version.Id}/download?withIndex=true");
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("there is no search index to include", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task With_the_semantic_setting_the_answering_version_encodes_the_passages_and_the_rankings_are_fused()
    {
        var (host, version, dataset) = await StartAsync();
        await using var owned = host;
        var search = host.Get<DocumentSearch>();
        Assert.False(search.UseSemanticSearch); // off unless configured
        const string Question = "How many days of paid holiday do full-time employees get?";
        var keyword = await search.SearchAsync(version.ProjectId, Question, 5);

        search.UseSemanticSearch = true;
        var hybrid = await search.SearchAsync(version.ProjectId, Question, 5);
        Assert.Equal(5, hybrid.Hits.Count);
        // Fused scores: at most 1/61 from each of the two rankings.
        Assert.All(hybrid.Hits, h => Assert.InRange(h.Score, 1.0 / 111, 2.0 / 61 + 1e-12));
        Assert.NotEqual(keyword.Hits.Select(h => h.Score), hybrid.Hits.Select(h => h.Score));
        Assert.Contains(hybrid.Hits, h => h.Passage.Text.Contains("26 days of paid holiday"));
        var folder = Assert.Single(Directory.GetDirectories(Path.Combine(host.Get<DataPreparation>().FolderOf(dataset), "semantic-index")));
        Assert.True(File.Exists(Path.Combine(folder, SemanticIndex.VectorsFile)));

        var nothing = await search.SearchAsync(version.ProjectId, "What is the capital of Peru?", 5);
        Assert.True(nothing.NoGoodMatch);
    }
}
