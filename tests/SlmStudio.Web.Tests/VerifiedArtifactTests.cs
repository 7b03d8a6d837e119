using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Export;
using SlmStudio.Web.Api;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>
/// Issue 14: the registry serves and loads only the files it registered (download, playground, API), downloads are
/// streamed without temporary files, and each model has a bounded generation queue.
/// </summary>
public sealed class VerifiedArtifactTests
{
    private static string TinyLlama()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SlmStudio.sln"))) return Path.Combine(dir.Parent!.FullName, "shared", "fixtures", "tiny-llama-hf");
        throw new InvalidOperationException("Run the tests from inside the repository.");
    }

    private sealed record World(StudioTestHost Host, ModelVersion Version, string Key, string OwnerEmail) : IAsyncDisposable
    {
        public string Folder => Host.Get<ModelRegistry>().FolderOf(Version);
        public ValueTask DisposeAsync() => Host.DisposeAsync();
    }

    /// <summary>A web host with one Builder who owns "Handbook" and its version 1 (the tiny-llama fixture exported), and an API key for it.</summary>
    private static async Task<World> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var host = await StudioTestHost.StartAsync(settings, web: true);
        var owner = await host.AddUserAsync("owner@example.com", StudioRoles.Builder);
        TrainingRun run;
        await using (var db = await host.DbAsync())
        {
            var project = new Project { Name = "Handbook", OwnerId = owner.Id };
            db.Projects.Add(project);
            await db.SaveChangesAsync();
            run = new TrainingRun { ProjectId = project.Id, CreatedBy = "owner@example.com" };
            db.Runs.Add(run);
            await db.SaveChangesAsync();
        }
        var staged = Path.Combine(host.Root, "staged");
        ModelExporter.Export(TinyLlama(), staged);
        var version = await host.Get<ModelRegistry>().RegisterAsync(run, staged);
        await using var scope = host.Services.CreateAsyncScope();
        var principal = await scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.IUserClaimsPrincipalFactory<StudioUser>>().CreateAsync(owner);
        string key;
        using (StudioUserContext.Use(principal)) key = await host.Get<ApiKeyService>().CreateAsync("bot", [version.ProjectId], null);
        return new World(host, version, key, "owner@example.com");
    }

    /// <summary>What the review did: change model.onnx and rewrite manifest.json so that the folder agrees with itself.</summary>
    private static void TamperWithMatchingManifest(string folder)
    {
        var onnx = Path.Combine(folder, "model.onnx");
        var bytes = File.ReadAllBytes(onnx);
        bytes[bytes.Length / 2] ^= 0x5A;
        File.WriteAllBytes(onnx, bytes);
        var manifest = ArtifactManifest.Load(folder);
        var files = manifest.Files.Select(f => f.Path == "model.onnx" ? ArtifactManifest.Describe(folder, ["model.onnx"])[0] : f).ToList();
        (manifest with { Files = files }).Save(folder);
        Assert.Empty(ArtifactManifest.Load(folder).Mismatches(folder)); // the folder checks out against its own manifest
    }

    private static HttpClient ApiClient(World w)
    {
        var http = new HttpClient { BaseAddress = w.Host.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", w.Key);
        return http;
    }

    private static async Task<List<AuditRow>> AuditAsync(World w)
    {
        using (StudioUserContext.Use(new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Role, StudioRoles.Administrator)], "test"))))
            return await w.Host.Get<AuditLog>().ReadAsync();
    }

    [Fact]
    public async Task A_changed_model_with_a_rehashed_manifest_is_refused_for_download_playground_and_api_and_audited()
    {
        await using var w = await StartAsync();
        TamperWithMatchingManifest(w.Folder);

        using var browser = await w.Host.ClientAsync(w.OwnerEmail);
        var download = await browser.GetAsync($"/api/versions/{w.Version.Id}/download");
        Assert.Equal(HttpStatusCode.Conflict, download.StatusCode);
        var body = await download.Content.ReadAsStringAsync();
        Assert.Contains("not the ones that were registered", body);
        Assert.Contains("model.onnx", body);
        Assert.DoesNotContain(w.Host.Root, body); // no server paths
        Assert.NotEqual("application/zip", download.Content.Headers.ContentType?.MediaType);

        var e = await Assert.ThrowsAsync<TamperedArtifactException>(() => w.Host.Get<ModelGeneration>().GetAsync(w.Version));
        Assert.Contains("model.onnx", e.Message);

        using var api = ApiClient(w);
        var completion = await api.PostAsJsonAsync("/v1/completions", new { model = "handbook:v1", prompt = "Hello", max_tokens = 3 });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, completion.StatusCode);
        Assert.Contains("not the ones that were registered", await completion.Content.ReadAsStringAsync());

        var refused = (await AuditAsync(w)).Where(r => r.Action == AuditActions.ArtifactRefused).ToList();
        Assert.True(refused.Count >= 3, $"expected an audit entry per refusal, got {refused.Count}");
        Assert.All(refused, r => Assert.Equal(w.Version.ProjectId, r.ProjectId));
        Assert.DoesNotContain(await AuditAsync(w), r => r.Action == AuditActions.Download);
    }

    [Fact]
    public async Task A_file_swapped_after_the_model_was_loaded_is_noticed_and_a_touched_identical_file_is_not()
    {
        await using var w = await StartAsync();
        var generation = w.Host.Get<ModelGeneration>();
        var first = await generation.GetAsync(w.Version);

        // Same bytes, new time: hashed again, still the registered file, the loaded model is kept.
        File.SetLastWriteTimeUtc(Path.Combine(w.Folder, "tokenizer.json"), DateTime.UtcNow.AddMinutes(5));
        Assert.Same(first, await generation.GetAsync(w.Version));

        // A different end token in tokenizer_config.json (a file the loader reads) after loading: refused.
        var config = Path.Combine(w.Folder, "tokenizer_config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("</s>", "<|end|>", StringComparison.Ordinal) + " ");
        var e = await Assert.ThrowsAsync<TamperedArtifactException>(() => generation.GetAsync(w.Version));
        Assert.Contains("tokenizer_config.json", e.Message);
    }

    [Fact]
    public async Task A_download_is_streamed_without_a_temporary_file_and_a_cancelled_one_leaves_nothing_behind()
    {
        await using var w = await StartAsync();
        using var browser = await w.Host.ClientAsync(w.OwnerEmail);

        // Whole download: a zip of exactly the registered files, sent without a length known in advance (streamed).
        using var response = await browser.GetAsync($"/api/versions/{w.Version.Id}/download", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.TransferEncodingChunked);
        Assert.Null(response.Content.Headers.ContentLength);
        await using (var zipStream = await response.Content.ReadAsStreamAsync())
        using (var zip = new ZipArchive(zipStream, ZipArchiveMode.Read))
        {
            foreach (var (path, sha) in ModelRegistry.RecordedHashes(w.Version))
            {
                await using var s = zip.GetEntry(path)!.Open();
                Assert.Equal(sha, Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(s)));
            }
            Assert.NotNull(zip.GetEntry(ModelRegistry.ManifestFile));
        }
        Assert.Contains(await AuditAsync(w), r => r.Action == AuditActions.Download && r.User == w.OwnerEmail && r.ProjectId == w.Version.ProjectId);

        // A download cancelled half-way: while it is open and after it is dropped, the temporary folder stays empty.
        var temp = Directory.CreateTempSubdirectory("slm-download-tmp-").FullName;
        var before = Environment.GetEnvironmentVariable("TMPDIR");
        Environment.SetEnvironmentVariable("TMPDIR", temp);
        try
        {
            Assert.Equal(Path.GetFullPath(temp).TrimEnd('/'), Path.GetFullPath(Path.GetTempPath()).TrimEnd('/'));
            using (var partial = await browser.GetAsync($"/api/versions/{w.Version.Id}/download", HttpCompletionOption.ResponseHeadersRead))
            {
                await using var body = await partial.Content.ReadAsStreamAsync();
                var buffer = new byte[1024];
                Assert.True(await body.ReadAsync(buffer) > 0);
                Assert.Empty(Directory.EnumerateFileSystemEntries(temp));
            }
            // The server is not left holding anything: the next download still works, and nothing was written.
            var again = await browser.GetAsync($"/api/versions/{w.Version.Id}/download");
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Empty(Directory.EnumerateFileSystemEntries(temp));
        }
        finally
        {
            Environment.SetEnvironmentVariable("TMPDIR", before);
            Directory.Delete(temp, recursive: true);
        }
    }

    [Fact]
    public async Task Generations_beyond_the_cap_wait_and_a_full_queue_answers_429_with_retry_after()
    {
        await using var w = await StartAsync(new()
        {
            ["Studio:MaxConcurrentGenerationsPerModel"] = "1",
            ["Studio:GenerationQueueLength"] = "1",
        });
        var generation = w.Host.Get<ModelGeneration>();
        using var api = ApiClient(w);
        var request = new { model = "handbook:v1", prompt = "Hello", max_tokens = 2, temperature = 0 };

        var busy = await generation.EnterAsync(w.Version.Id); // someone is generating
        var queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        generation.Queued += id => { if (id == w.Version.Id) queued.TrySetResult(); };
        var waiting = api.PostAsJsonAsync("/v1/completions", request);
        await queued.Task.WaitAsync(TimeSpan.FromMinutes(1));

        var refused = await api.PostAsJsonAsync("/v1/completions", request);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero, "Retry-After is missing");
        var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Contains("This model is busy", error.GetProperty("message").GetString());
        Assert.False(waiting.IsCompleted);

        busy.Dispose();
        var served = await waiting;
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal((0L, 0L), generation.QueueOf(w.Version.Id));
    }

    [Fact]
    public async Task A_waiting_generation_hears_how_many_are_ahead_and_gives_up_after_the_configured_time()
    {
        var clock = new FakeTimeProvider();
        var options = Microsoft.Extensions.Options.Options.Create(new StudioOptions { MaxConcurrentGenerationsPerModel = 2, GenerationQueueLength = 5, GenerationQueueSeconds = 30 });
        using var generation = new ModelGeneration(null!, options, clock, NullLogger<ModelGeneration>.Instance);
        using var a = await generation.EnterAsync(7);
        using var b = await generation.EnterAsync(7);
        int? ahead = null;
        var third = generation.EnterAsync(7, n => ahead = n);
        Assert.Equal(2, ahead);
        Assert.Equal("Waiting for 2 others using this model to finish…", Components.Pages.Playground.PlaygroundState.WaitingText(ahead!.Value));
        Assert.False(third.IsCompleted);

        clock.Advance(TimeSpan.FromSeconds(31));
        var e = await Assert.ThrowsAsync<GenerationBusyException>(() => third);
        Assert.False(e.QueueFull); // timed out: HTTP 503
        Assert.Contains("30 seconds", e.Message);
    }

    [Fact]
    public async Task A_generation_cap_of_zero_is_refused_when_the_portal_starts()
    {
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => StudioTestHost.StartAsync(new() { ["Studio:MaxConcurrentGenerationsPerModel"] = "0" }, web: true));
        Assert.Contains("MaxConcurrentGenerationsPerModel", e.Message);
    }
}
