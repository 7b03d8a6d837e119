using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;
using SlmStudio.Core.Export;
using SlmStudio.Web.Api;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>API keys and the OpenAI-compatible /v1 endpoints over HTTP, with the official OpenAI .NET client and a real
/// ONNX model (the tiny-llama fixture exported and registered as each project's version 1).</summary>
public sealed class OpenAiApiTests
{
    private static string TinyLlama()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SlmStudio.sln"))) return Path.Combine(dir.Parent!.FullName, "shared", "fixtures", "tiny-llama-hf");
        throw new InvalidOperationException("Run the tests from inside the repository.");
    }

    private sealed record World(StudioTestHost Host, string KeyA, string KeyB, ClaimsPrincipal Owner) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Host.DisposeAsync();
    }

    private static async Task<World> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var host = await StudioTestHost.StartAsync(settings, web: true);
        var owner = await host.AddUserAsync("owner@example.com", StudioRoles.Builder);
        int a, b;
        await using (var db = await host.DbAsync())
        {
            var pa = new Project { Name = "Handbook assistant", OwnerId = owner.Id };
            var pb = new Project { Name = "Payroll secrets", OwnerId = owner.Id };
            db.Projects.AddRange(pa, pb);
            await db.SaveChangesAsync();
            (a, b) = (pa.Id, pb.Id);
            db.Runs.AddRange(new TrainingRun { ProjectId = a, CreatedBy = "t" }, new TrainingRun { ProjectId = b, CreatedBy = "t" });
            await db.SaveChangesAsync();
        }
        var registry = host.Get<ModelRegistry>();
        await using (var db = await host.DbAsync())
            foreach (var run in db.Runs.ToList())
            {
                var staged = Path.Combine(host.Root, "staged", run.Id.ToString());
                ModelExporter.Export(TinyLlama(), staged);
                var version = await registry.RegisterAsync(run, staged);
                if (run.ProjectId == a) await registry.SetAliasAsync(version.Id, "production");
            }
        await using var scope = host.Services.CreateAsyncScope();
        var principal = await scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.IUserClaimsPrincipalFactory<StudioUser>>().CreateAsync(owner);
        using (StudioUserContext.Use(principal))
        {
            var keys = host.Get<ApiKeyService>();
            return new World(host, await keys.CreateAsync("docs bot", [a], null), await keys.CreateAsync("payroll", [b], DateTimeOffset.UtcNow.AddDays(1)), principal);
        }
    }

    private static HttpClient Client(World w, string? key)
    {
        var http = new HttpClient { BaseAddress = w.Host.BaseAddress };
        if (key is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    private static OpenAIClient OpenAi(World w, string key) =>
        new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(w.Host.BaseAddress, "/v1") });

    [Fact]
    public async Task The_official_OpenAI_client_lists_models_completes_and_streams_a_chat()
    {
        await using var w = await StartAsync();
        var client = OpenAi(w, w.KeyA);

        var models = (await client.GetOpenAIModelClient().GetModelsAsync()).Value.Select(m => m.Id).Order().ToList();
        Assert.Equal(["handbook-assistant:production", "handbook-assistant:v1"], models);

        var chat = client.GetChatClient("handbook-assistant:production");
        var whole = await chat.CompleteChatAsync([new UserChatMessage("Hello")], new ChatCompletionOptions { MaxOutputTokenCount = 5, Temperature = 0 });
        Assert.Equal(5, whole.Value.Usage.OutputTokenCount);
        Assert.True(whole.Value.Usage.InputTokenCount > 0);

        var streamed = new System.Text.StringBuilder();
        var updates = 0;
        ChatFinishReason? finish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Hello")], new ChatCompletionOptions { MaxOutputTokenCount = 5, Temperature = 0 }))
        {
            updates++;
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.True(updates >= 2);
        Assert.Equal(ChatFinishReason.Length, finish);
        // Greedy decoding: streaming and not streaming give the same text.
        Assert.Equal(whole.Value.Content[0].Text, streamed.ToString());

        using var http = Client(w, w.KeyA);
        var completion = await http.PostAsJsonAsync("/v1/completions", new { model = "handbook-assistant:v1", prompt = "Once upon", max_tokens = 4, temperature = 0, seed = 1 });
        Assert.Equal(HttpStatusCode.OK, completion.StatusCode);
        using var doc = JsonDocument.Parse(await completion.Content.ReadAsStringAsync());
        Assert.Equal("text_completion", doc.RootElement.GetProperty("object").GetString());
        Assert.Equal(4, doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        var tooMany = await http.PostAsJsonAsync("/v1/completions", new { model = "handbook-assistant:v1", prompt = "x", max_tokens = 100_000 });
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Equal("max_tokens", JsonDocument.Parse(await tooMany.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task A_key_for_one_project_cannot_reach_another_and_revoked_expired_or_missing_keys_are_refused()
    {
        await using var w = await StartAsync();
        using var a = Client(w, w.KeyA);
        var crossProject = await a.PostAsJsonAsync("/v1/completions", new { model = "payroll-secrets:v1", prompt = "salary", max_tokens = 2 });
        Assert.Equal(HttpStatusCode.NotFound, crossProject.StatusCode);
        Assert.Equal("model_not_found", JsonDocument.Parse(await crossProject.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
        using var b = Client(w, w.KeyB);
        Assert.Contains("payroll-secrets:v1", await b.GetStringAsync("/v1/models"));
        Assert.DoesNotContain("handbook", await b.GetStringAsync("/v1/models"));

        using (var none = Client(w, null))
        {
            var refused = await none.GetAsync("/v1/models");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("invalid_api_key", JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        using (var forged = Client(w, w.KeyA[..^2] + "xx"))
            Assert.Equal(HttpStatusCode.Unauthorized, (await forged.GetAsync("/v1/models")).StatusCode);

        var keys = w.Host.Get<ApiKeyService>();
        using (StudioUserContext.Use(w.Owner))
        {
            await keys.RevokeAsync((await keys.MineAsync()).Single(k => k.Name == "docs bot").Id);
            var expired = await keys.CreateAsync("old", [1], DateTimeOffset.UtcNow.AddMinutes(-1));
            using var old = Client(w, expired);
            Assert.Equal(HttpStatusCode.Unauthorized, (await old.GetAsync("/v1/models")).StatusCode);
        }
        Assert.Equal(HttpStatusCode.Unauthorized, (await a.GetAsync("/v1/models")).StatusCode);
        // A key is not a sign-in: it opens no page or file.
        using var page = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = w.Host.BaseAddress };
        page.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", w.KeyB);
        Assert.Equal(HttpStatusCode.Unauthorized, (await page.GetAsync("/api/versions/2/download")).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await page.GetAsync("/models")).StatusCode);
    }

    [Fact]
    public async Task Each_key_has_its_own_rate_limit_answered_with_429_and_Retry_After()
    {
        await using var w = await StartAsync(new() { ["Studio:Api:RequestsPerMinute"] = "2" });
        using var a = Client(w, w.KeyA);
        using var b = Client(w, w.KeyB);
        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/v1/models")).StatusCode);
        var limited = await a.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.True(limited.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Equal(HttpStatusCode.OK, (await b.GetAsync("/v1/models")).StatusCode);
    }
}
