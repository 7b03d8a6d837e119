using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Retrieval;
using SlmStudio.Web.Components.Pages.BaseModels;
using SlmStudio.Web.Components.Pages.Playground;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>Search over frozen documents (index, ask endpoint), the base model library page, and the playground's plain controls.</summary>
public sealed class DocumentsAndLibraryTests
{
    private static async Task<(StudioTestHost Host, int ProjectId)> FrozenSampleProjectAsync(bool web = false)
    {
        var host = await StudioTestHost.StartAsync(web: web);
        var project = await host.AddProjectAsync("Brightwater");
        var uploads = host.Get<DataUploads>();
        Assert.True(await uploads.AddSampleDataAsync(project.Id, default) > 0);
        var preparation = host.Get<DataPreparation>();
        await preparation.ExtractAsync(project.Id, default);
        var stages = new List<string>();
        var progress = new SynchronousProgress(p => { lock (stages) stages.Add(p.Stage); });
        await preparation.FreezeAsync(await preparation.ReviewAsync(project.Id), "tester", progress: progress);
        lock (stages) { Assert.Contains("passages", stages); Assert.Contains("index", stages); }
        return (host, project.Id);
    }

    private sealed class SynchronousProgress(Action<Core.Data.DataProgress> report) : IProgress<Core.Data.DataProgress>
    {
        public void Report(Core.Data.DataProgress value) => report(value);
    }

    [Fact]
    public async Task Freezing_writes_a_search_index_that_finds_the_holiday_policy()
    {
        var (host, projectId) = await FrozenSampleProjectAsync();
        await using var owned = host;
        var dataset = await host.Get<DocumentSearch>().DatasetOfAsync(projectId);
        Assert.NotNull(dataset);
        var folder = host.Get<DataPreparation>().FolderOf(dataset!);
        Assert.Equal(DatasetSearchState.Ready, DatasetSearch.Check(folder));

        var results = await host.Get<DocumentSearch>().SearchAsync(projectId, "How many days of paid holiday do full-time employees get?", 3);
        Assert.NotEmpty(results.Hits);
        Assert.Contains(results.Hits, h => h.Passage.File == "employee-handbook.md" && h.Passage.Text.Contains("26 days of paid holiday"));

        // The same index object serves every request for the version: one open index per dataset version.
        var search = host.Get<DocumentSearch>();
        var indexes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => search.IndexOfAsync(dataset!))));
        Assert.All(indexes, i => Assert.Same(indexes[0], i));

        var hit = results.Hits.First(h => h.Passage.File == "employee-handbook.md");
        var context = await search.ContextAsync(projectId, hit.Passage.Id);
        Assert.NotNull(context);
        Assert.Equal(hit.Passage, context!.Passage);
        Assert.All(context.Before.Concat(context.After), p => Assert.Equal(hit.Passage.File, p.File));
    }

    [Fact]
    public async Task The_ask_endpoint_returns_the_right_passage_and_says_plainly_when_nothing_matches()
    {
        var (host, projectId) = await FrozenSampleProjectAsync(web: true);
        await using var owned = host;
        await host.AddUserAsync("admin@example.com", SlmStudio.Web.Security.StudioRoles.Administrator);
        using var client = await host.ClientAsync("admin@example.com");
        using (var anonymous = await host.ClientAsync())
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync($"/api/projects/{projectId}/ask", new { question = "holiday" })).StatusCode);

        var found = await client.PostAsJsonAsync($"/api/projects/{projectId}/ask", new { question = "How many unused holiday days can I carry into the next year?", top = 3 });
        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        var foundJson = await found.Content.ReadAsStringAsync();
        using (var json = JsonDocument.Parse(foundJson))
        {
            var passages = json.RootElement.GetProperty("passages");
            Assert.InRange(passages.GetArrayLength(), 1, 3);
            Assert.Contains(passages.EnumerateArray(), p => p.GetProperty("file").GetString() == "employee-handbook.md"
                && p.GetProperty("text").GetString()!.Contains("carry up to five unused days"));
            Assert.False(json.RootElement.TryGetProperty("answer", out _));
        }

        var nonsense = await client.PostAsJsonAsync($"/api/projects/{projectId}/ask", new { question = "zxqv plorbt wibblefrump?" });
        Assert.Equal(HttpStatusCode.OK, nonsense.StatusCode);
        using (var json = JsonDocument.Parse(await nonsense.Content.ReadAsStringAsync()))
        {
            Assert.Equal(0, json.RootElement.GetProperty("passages").GetArrayLength());
            Assert.False(string.IsNullOrWhiteSpace(json.RootElement.GetProperty("message").GetString()));
        }

        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsJsonAsync("/api/projects/9999/ask", new { question = "holiday" })).StatusCode);
        var empty = await client.PostAsJsonAsync($"/api/projects/{projectId}/ask", new { question = "" });
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Contains("question", await empty.Content.ReadAsStringAsync());
    }

    [Fact]
    public void Creativity_maps_to_sampling_settings_and_the_server_clamps_max_tokens()
    {
        Assert.Equal((0.0, 0, 1.0), CreativitySettings.For(Creativity.Low));
        var (mt, mk, mp) = CreativitySettings.For(Creativity.Medium);
        var (ht, hk, hp) = CreativitySettings.For(Creativity.High);
        Assert.True(ht > mt && mt > 0);
        Assert.True(hk > mk && hp >= mp);
        foreach (var c in Enum.GetValues<Creativity>())
        {
            var (t, k, p) = CreativitySettings.For(c);
            new GenerationSettings(10, t, k, p).Validate();
        }

        Assert.Equal(ModelGeneration.MaxNewTokens, ModelGeneration.Clamp(new GenerationSettings(1_000_000, 0.7, 40, 0.9)).MaxNewTokens);
        Assert.Equal(1, ModelGeneration.Clamp(new GenerationSettings(-5, 0.7, 40, 0.9)).MaxNewTokens);
        Assert.Equal(80, ModelGeneration.Clamp(new GenerationSettings(80, 0.7, 40, 0.9)).MaxNewTokens);
    }

    [Fact]
    public void Playground_text_never_shows_replacement_or_control_characters_and_stops_at_a_sentence_end()
    {
        var state = new PlaygroundState();
        state.Start("x");
        state.Add("Hello\uFFFD", 0.5f);
        state.Add("\u0007", 0.5f);
        state.Add(" world\n", 0.5f);
        Assert.Equal("Hello world\n", state.Text);
        Assert.Equal(2, state.Tokens.Count);

        Assert.True(PlaygroundState.EndsSentence("the kettle boils in two minutes."));
        Assert.True(PlaygroundState.EndsSentence("is it ready yet?\""));
        Assert.False(PlaygroundState.EndsSentence("the kettle boils"));
        Assert.False(PlaygroundState.EndsSentence("it costs 3."));
        Assert.False(PlaygroundState.EndsSentence("Yes."));
    }

    [Fact]
    public void Highlighting_escapes_text_and_marks_only_the_matches()
    {
        var pieces = Highlight.Pieces("<b>holiday</b> days", [new TextSpan(3, 7), new TextSpan(15, 4), new TextSpan(17, 50)]).ToList();
        Assert.Equal(new List<(string, bool)> { ("<b>", false), ("holiday", true), ("</b> ", false), ("days", true) }, pieces);

        using var ctx = new BunitContext();
        var cut = ctx.Render<HighlightedText>(p => p.Add(x => x.Text, "<b>holiday</b> days").Add(x => x.Matches, [new TextSpan(3, 7)]));
        Assert.Contains("<mark>holiday</mark>", cut.Markup);
        Assert.Contains("&lt;b&gt;", cut.Markup);
        Assert.DoesNotContain("<b>", cut.Markup);
        Assert.Single(cut.FindAll("mark"));
    }

    [Fact]
    public async Task The_library_page_lists_an_imported_fixture_and_explains_a_folder_it_cannot_use()
    {
        var library = Path.Combine(Path.GetTempPath(), "slm-web-tests", "library-" + Guid.NewGuid().ToString("N"));
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:BaseModelsPath"] = library });
        try
        {
            var catalog = host.Get<BaseModelCatalog>();
            var fixture = Path.Combine(Path.GetDirectoryName(FindUp(AppContext.BaseDirectory, "SlmStudio.sln")!)!, "shared", "fixtures", "tiny-llama-hf");
            catalog.Library.Import(fixture, "tiny-llama");
            Directory.CreateDirectory(Path.Combine(library, "broken-model"));
            File.WriteAllText(Path.Combine(library, "broken-model", "config.json"), "{\"model_type\": \"gpt_bigcode\"}");
            await catalog.ScanAsync();

            using var ctx = new BunitContext();
            ctx.JSInterop.Mode = JSRuntimeMode.Loose;
            ctx.Services.AddMudServices();
            ctx.Services.AddSingleton(catalog);
            var cut = ctx.Render<BaseModelsPage>();
            var row = cut.Find("#base-models tbody tr").TextContent;
            var entry = catalog.Library.Get("tiny-llama")!;
            Assert.Contains("tiny-llama", row);
            Assert.Contains(entry.Architecture, row);
            Assert.Contains(BaseModelCatalog.FormatParameters(entry.ParameterCount), row);
            Assert.Contains(entry.ContextLength.ToString("N0"), row);
            Assert.Contains(BaseModelCatalog.FormatBytes(entry.DiskBytes), row);
            var problem = cut.Find(".base-problem").TextContent;
            Assert.Contains("broken-model", problem);
        }
        finally
        {
            try { Directory.Delete(library, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task An_upload_that_is_not_a_model_is_refused_and_leaves_nothing_behind()
    {
        var library = Path.Combine(Path.GetTempPath(), "slm-web-tests", "library-" + Guid.NewGuid().ToString("N"));
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:BaseModelsPath"] = library });
        var catalog = host.Get<BaseModelCatalog>();
        using var zip = new MemoryStream();
        using (var archive = new System.IO.Compression.ZipArchive(zip, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        using (var writer = new StreamWriter(archive.CreateEntry("readme.txt").Open())) writer.Write("not a model");
        zip.Position = 0;
        await await catalog.UploadAsync(zip, "not-a-model.zip");
        Assert.NotNull(catalog.LastImport);
        Assert.False(catalog.LastImport!.Succeeded);
        Assert.Contains("not-a-model.zip was not added", catalog.LastImport.Message);
        Assert.Empty(catalog.Library.List());
        Assert.False(Directory.Exists(Path.Combine(library, "not-a-model")));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(host.Root, "jobs", "base-model-uploads")));

        await await catalog.UploadAsync(new MemoryStream([1, 2, 3]), "weights.bin");
        Assert.Contains("is not a .zip", catalog.LastImport!.Message);
    }

    private static string? FindUp(string start, string file)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, file))) return dir.FullName;
        return null;
    }
}
