using System.Security.Claims;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core;
using SlmStudio.Core.Inference;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Api;

public sealed record CompletionRequest(
    string? Model, JsonElement Prompt, [property: JsonPropertyName("max_tokens")] int? MaxTokens, double? Temperature,
    [property: JsonPropertyName("top_p")] double? TopP, JsonElement Stop, int? Seed, bool Stream = false);

public sealed record ChatMessage(string Role, JsonElement Content);

public sealed record ChatRequest(
    string? Model, List<ChatMessage>? Messages, [property: JsonPropertyName("max_tokens")] int? MaxTokens,
    [property: JsonPropertyName("max_completion_tokens")] int? MaxCompletionTokens, double? Temperature,
    [property: JsonPropertyName("top_p")] double? TopP, JsonElement Stop, int? Seed, bool Stream = false);

/// <summary>
/// OpenAI-compatible endpoints under /v1, so existing clients work with a base URL and an API key. Model ids are
/// "&lt;project&gt;:v&lt;n&gt;" for a version and "&lt;project&gt;:&lt;alias&gt;" (such as ":production") for an alias.
/// </summary>
public static class OpenAiEndpoints
{
    public const string RateLimitPolicy = "per-api-key";

    public static void AddOpenAiApi(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ApiKeyService>();
        builder.Services.AddAuthentication().AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        var perMinute = builder.Configuration.GetValue("Studio:Api:RequestsPerMinute", 60);
        builder.Services.AddRateLimiter(o =>
        {
            o.AddPolicy(RateLimitPolicy, http => RateLimitPartition.GetFixedWindowLimiter(
                http.User.FindFirstValue(ApiKeyService.KeyIdClaim) ?? "anonymous",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = perMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
            o.OnRejected = async (context, ct) =>
            {
                var retry = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromMinutes(1);
                context.HttpContext.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                context.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(retry.TotalSeconds)).ToString();
                await context.HttpContext.Response.WriteAsJsonAsync(OpenAiError.Body($"Too many requests for this key: at most {perMinute} a minute. Try again later.", "rate_limit_exceeded", "rate_limit_exceeded"), ct);
            };
        });
    }

    public static void MapOpenAiEndpoints(this WebApplication app)
    {
        var v1 = app.MapGroup("/v1")
            .RequireAuthorization(new AuthorizationPolicyBuilder(ApiKeyAuthenticationHandler.SchemeName).RequireAuthenticatedUser().Build())
            .RequireRateLimiting(RateLimitPolicy)
            .DisableAntiforgery();
        v1.MapGet("/models", async (IDbContextFactory<StudioDbContext> dbFactory) =>
        {
            await using var db = await dbFactory.CreateDbContextAsync();
            var data = (await ModelsAsync(db)).Select(m => new { id = m.Id, @object = "model", created = m.Created, owned_by = "slm-studio" });
            return Results.Json(new { @object = "list", data });
        }).WithTags("OpenAI-compatible").WithSummary("The models this key may use: <project>:v<n> per version and <project>:<alias> per alias.");
        v1.MapPost("/completions", async (HttpContext http, CompletionRequest request, IDbContextFactory<StudioDbContext> dbFactory, ModelGeneration generation, IConfiguration config) =>
        {
            var prompt = request.Prompt.ValueKind switch
            {
                JsonValueKind.String => request.Prompt.GetString()!,
                JsonValueKind.Array when request.Prompt.GetArrayLength() == 1 && request.Prompt[0].ValueKind == JsonValueKind.String => request.Prompt[0].GetString()!,
                _ => null,
            };
            if (prompt is null) return OpenAiError.Result(400, "'prompt' must be one string.", param: "prompt");
            return await GenerateAsync(http, dbFactory, generation, config, request.Model, prompt, request.MaxTokens, request.Temperature, request.TopP, request.Stop, request.Seed, request.Stream, chat: false);
        }).WithTags("OpenAI-compatible").WithSummary("Continues a prompt (stream: true sends server-sent events). 429 with Retry-After when the key or the model is busy.");
        v1.MapPost("/chat/completions", async (HttpContext http, ChatRequest request, IDbContextFactory<StudioDbContext> dbFactory, ModelGeneration generation, IConfiguration config) =>
        {
            if (request.Messages is not { Count: > 0 }) return OpenAiError.Result(400, "'messages' must hold at least one message.", param: "messages");
            var prompt = RenderChat(request.Messages);
            return await GenerateAsync(http, dbFactory, generation, config, request.Model, prompt, request.MaxCompletionTokens ?? request.MaxTokens,
                request.Temperature, request.TopP, request.Stop, request.Seed, request.Stream, chat: true);
        }).WithTags("OpenAI-compatible").WithSummary("Answers a conversation (stream: true sends server-sent events). 429 with Retry-After when the key or the model is busy.");
    }

    private sealed record ModelEntry(string Id, int VersionId, long Created);

    /// <summary>Versions and aliases of the projects the key reaches (its owner's access intersected with its projects).</summary>
    private static async Task<List<ModelEntry>> ModelsAsync(StudioDbContext db)
    {
        var projects = await db.VisibleProjects().Include(p => p.Versions).OrderBy(p => p.Name).ToListAsync();
        var ids = projects.Select(p => p.Id).ToList();
        var aliases = await db.Aliases.Where(a => ids.Contains(a.ProjectId)).ToListAsync();
        var list = new List<ModelEntry>();
        foreach (var p in projects)
        {
            var slug = StudioApi.Slug(p.Name);
            foreach (var v in p.Versions.OrderBy(v => v.Number)) list.Add(new ModelEntry($"{slug}:v{v.Number}", v.Id, v.CreatedAt.ToUnixTimeSeconds()));
            foreach (var a in aliases.Where(a => a.ProjectId == p.Id).OrderBy(a => a.Name))
                list.Add(new ModelEntry($"{slug}:{a.Name}", a.ModelVersionId, a.UpdatedAt.ToUnixTimeSeconds()));
        }
        return list;
    }

    /// <summary>Our models are trained on plain text, without a chat template: messages become "User:/Assistant:" lines
    /// and the model continues after "Assistant:".</summary>
    public static string RenderChat(IEnumerable<ChatMessage> messages)
    {
        var text = new StringBuilder();
        foreach (var m in messages)
        {
            var content = m.Content.ValueKind == JsonValueKind.String ? m.Content.GetString()
                : m.Content.ValueKind == JsonValueKind.Array ? string.Concat(m.Content.EnumerateArray().Where(p => p.TryGetProperty("text", out _)).Select(p => p.GetProperty("text").GetString())) : "";
            var who = m.Role switch { "system" or "developer" => "System", "assistant" => "Assistant", _ => "User" };
            text.Append(who).Append(": ").Append(content).Append('\n');
        }
        return text.Append("Assistant:").ToString();
    }

    private static async Task<IResult> GenerateAsync(HttpContext http, IDbContextFactory<StudioDbContext> dbFactory, ModelGeneration generation, IConfiguration config,
        string? model, string prompt, int? maxTokens, double? temperature, double? topP, JsonElement stop, int? seed, bool stream, bool chat)
    {
        var cap = config.GetValue("Studio:Api:MaxTokens", 512);
        if (maxTokens is < 1 || maxTokens > cap) return OpenAiError.Result(400, $"'max_tokens' must be between 1 and {cap}.", param: "max_tokens");
        ModelEntry? entry;
        ModelVersion? version = null;
        await using (var db = await dbFactory.CreateDbContextAsync())
        {
            entry = (await ModelsAsync(db)).FirstOrDefault(m => string.Equals(m.Id, model, StringComparison.OrdinalIgnoreCase));
            if (entry is not null) version = await db.ModelVersions.SingleAsync(v => v.Id == entry.VersionId);
        }
        if (version is null)
            return OpenAiError.Result(404, $"The model '{model}' does not exist or this key cannot reach it. GET /v1/models lists the models this key may use.", code: "model_not_found", param: "model");
        List<string> stops = stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array => [.. stop.EnumerateArray().Select(s => s.GetString() ?? "")],
            _ => [],
        };
        if (chat) stops.Add("\nUser:");
        var settings = new GenerationSettings(maxTokens ?? Math.Min(cap, 128), temperature ?? 1.0, TopK: 0, TopP: topP ?? 1.0, RepetitionPenalty: 1, Seed: seed, StopSequences: stops.Count > 0 ? stops : null);
        try { settings.Validate(); }
        catch (EngineException e) { return OpenAiError.Result(400, e.Message); }

        TextGenerator generator;
        try { generator = await generation.GetAsync(version); }
        catch (TamperedArtifactException e) { return OpenAiError.Result(503, e.Message, "server_error", "model_unavailable"); }
        catch (Exception e) when (e is EngineException or IOException)
        {
            return OpenAiError.Result(503, "The model's files could not be loaded on the server. Ask an administrator to check this version.", "server_error", "model_unavailable");
        }
        IDisposable turn;
        try { turn = await generation.EnterAsync(version.Id, ct: http.RequestAborted); }
        catch (GenerationBusyException e)
        {
            http.Response.Headers.RetryAfter = ((int)Math.Ceiling(e.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return e.QueueFull
                ? OpenAiError.Result(429, e.Message, "rate_limit_exceeded", "model_busy")
                : OpenAiError.Result(503, e.Message, "server_error", "model_busy");
        }
        using (turn) return await GenerateWithAsync(http, generator, entry!, prompt, settings, stream, chat);
    }

    private static async Task<IResult> GenerateWithAsync(HttpContext http, TextGenerator generator, ModelEntry entry, string prompt, GenerationSettings settings, bool stream, bool chat)
    {
        var promptTokens = generator.Encode(prompt).Length;
        var id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var ct = http.RequestAborted; // a client that disconnects stops the generation
        var objectName = chat ? "chat.completion" : "text_completion";

        if (!stream)
        {
            var text = new StringBuilder();
            var count = 0;
            await foreach (var token in generator.GenerateAsync(prompt, settings, ct)) { text.Append(token.Text); count++; }
            var finish = count >= settings.MaxNewTokens ? "length" : "stop";
            var usage = new { prompt_tokens = promptTokens, completion_tokens = count, total_tokens = promptTokens + count };
            object choice = chat
                ? new { index = 0, message = new { role = "assistant", content = text.ToString() }, finish_reason = finish }
                : new { index = 0, text = text.ToString(), finish_reason = finish, logprobs = (object?)null };
            return Results.Json(new { id, @object = objectName, created, model = entry!.Id, choices = new[] { choice }, usage });
        }

        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        var streamed = 0;
        var chunkObject = chat ? "chat.completion.chunk" : "text_completion";
        async Task SendAsync(object chunk)
        {
            await http.Response.WriteAsync("data: " + JsonSerializer.Serialize(chunk) + "\n\n", ct);
            await http.Response.Body.FlushAsync(ct);
        }
        if (chat) await SendAsync(new { id, @object = chunkObject, created, model = entry!.Id, choices = new[] { new { index = 0, delta = new { role = "assistant", content = "" }, finish_reason = (string?)null } } });
        await foreach (var token in generator.GenerateAsync(prompt, settings, ct))
        {
            streamed++;
            if (token.Text.Length == 0) continue;
            object piece = chat
                ? new { index = 0, delta = new { content = token.Text }, finish_reason = (string?)null }
                : new { index = 0, text = token.Text, finish_reason = (string?)null, logprobs = (object?)null };
            await SendAsync(new { id, @object = chunkObject, created, model = entry!.Id, choices = new[] { piece } });
        }
        var reason = streamed >= settings.MaxNewTokens ? "length" : "stop";
        object last = chat
            ? new { index = 0, delta = new { }, finish_reason = reason }
            : new { index = 0, text = "", finish_reason = reason, logprobs = (object?)null };
        await SendAsync(new { id, @object = chunkObject, created, model = entry!.Id, choices = new[] { last },
            usage = new { prompt_tokens = promptTokens, completion_tokens = streamed, total_tokens = promptTokens + streamed } });
        await http.Response.WriteAsync("data: [DONE]\n\n", ct);
        return Results.Empty;
    }
}
