using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using CoreChatMessage = SlmStudio.Core.Tokenization.ChatMessage;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Api;

public sealed record ProjectChatMessage(string? Role, string? Content);

/// <summary>The body of <c>POST /api/projects/{id}/chat</c>: the conversation so far, ending with the user's question.</summary>
/// <param name="Version">A version number of the project, or an alias such as "production"; empty: production, else the newest chat model.</param>
public sealed record ProjectChatRequest(List<ProjectChatMessage>? Messages, [property: JsonPropertyName("max_tokens")] int? MaxTokens, string? Version);

public sealed record ProjectChatResponse(int Version, string Answer, ProjectChatMessage Message);

/// <summary>
/// "Answer questions" for other programs: <c>POST /api/projects/{id}/chat</c> with
/// <c>{"messages": [{"role": "user", "content": "..."}], "max_tokens": 200}</c> answers the last question (earlier turns
/// and a system message give the context). The same rules as the classify endpoint: a signed-in person or an API key,
/// and only projects that person (or key) may see.
/// </summary>
public static class ChatEndpoints
{
    public static void MapChatEndpoints(this WebApplication app) =>
        app.MapProjectPost("/api/projects/{id:int}/chat", ChatAsync);

    private static async Task<IResult> ChatAsync(int id, ProjectChatRequest? request, HttpContext http,
        IDbContextFactory<StudioDbContext> dbFactory, ModelChat chat, ChatReports reports, CancellationToken ct)
    {
        if (request?.Messages is not { Count: > 0 } messages)
            return Results.BadRequest(new { message = "Send JSON like {\"messages\": [{\"role\": \"user\", \"content\": \"How do I reset my password?\"}]}." });
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (!await db.Projects.VisibleTo(http.User).AnyAsync(p => p.Id == id, ct))
            return Results.NotFound(new { message = "There is no project with that number, or you do not have access to it." });
        var version = await ProjectEndpoints.ChooseVersionAsync(db, id, request.Version, reports.IsChat,
            "This project has no model that answers questions yet. Train an \"Answer questions\" model first.",
            v => $"Version {v.Number} was not trained to answer questions. Choose an \"Answer questions\" version.", ct);
        if (version.Problem is { } problem) return Results.NotFound(new { message = problem });
        var conversation = messages.Select(m => new CoreChatMessage((m.Role ?? "").Trim().ToLowerInvariant(), m.Content ?? "")).ToList();
        try
        {
            var answer = await chat.AnswerAsync(version.Version!, conversation, request.MaxTokens, ct);
            return Results.Json(new ProjectChatResponse(version.Version!.Number, answer, new ProjectChatMessage("assistant", answer)));
        }
        catch (UserFacingException e) { return Results.BadRequest(new { message = e.Message }); }
    }
}
