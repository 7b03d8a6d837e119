using Microsoft.EntityFrameworkCore;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Security;

/// <summary>The names of what the audit log records, so pages and tests filter on the same words.</summary>
public static class AuditActions
{
    public const string SignIn = "sign-in";
    public const string SignInFailed = "sign-in failed";
    public const string Upload = "upload";
    public const string Freeze = "freeze data";
    public const string TrainingStarted = "start training";
    public const string TrainingCancelled = "cancel training";
    public const string Registered = "register version";
    public const string Promoted = "set alias";
    public const string Download = "download";
    public const string ArtifactRefused = "artifact refused";
    public const string KeyCreated = "create API key";
    public const string KeyRevoked = "revoke API key";
    public const string PersonAdded = "add person";
    public const string RoleChanged = "change role";
    public const string MemberAdded = "add member";
    public const string MemberRemoved = "remove member";
    public const string ProjectDeleted = "delete project";
    public const string FileDeleted = "delete file";

    /// <summary>Every action above, for the audit page's filter.</summary>
    public static readonly IReadOnlyList<string> All = [.. typeof(AuditActions).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).Order(StringComparer.Ordinal)];
    public const string OriginalDeleted = "delete original (retention)";
}

/// <summary>One row of the audit page.</summary>
public sealed record AuditRow(DateTimeOffset At, string User, string Action, int? ProjectId, string Detail);

/// <summary>
/// Who did what and when. Every place that does something worth recording calls <see cref="RecordAsync"/>; the entry
/// keeps the fact (names, numbers), never the data itself. The project an action concerned has a column of its own,
/// so the page filters by it.
/// </summary>
public sealed class AuditLog(IDbContextFactory<StudioDbContext> dbFactory, TimeProvider clock, ILogger<AuditLog> logger)
{
    /// <summary>Records an action by the current person (or <paramref name="user"/> when the person is not signed in
    /// yet, as at a failed sign-in). A failure to record is logged and never undoes the action.</summary>
    public async Task RecordAsync(string action, string detail, int? projectId = null, string? user = null)
    {
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync();
            db.AuditLog.Add(new AuditEntry
            {
                At = clock.GetUtcNow(),
                UserName = user ?? StudioUserContext.Name,
                Action = action,
                ProjectId = projectId,
                Detail = detail,
            });
            await db.SaveChangesAsync();
        }
        catch (Exception e) when (e is DbUpdateException or InvalidOperationException or Microsoft.Data.Sqlite.SqliteException)
        {
            logger.LogError(e, "Could not write the audit entry {Action}: {Detail}", action, detail);
        }
    }

    /// <summary>Newest first, for administrators only; <paramref name="user"/> matches part of the name, the other
    /// filters match exactly.</summary>
    public async Task<List<AuditRow>> ReadAsync(string? user = null, int? projectId = null, int take = 500, string? action = null)
    {
        if (!StudioUserContext.IsAdministrator) throw new UserFacingException("Only administrators can read the audit log.");
        await using var db = await dbFactory.CreateDbContextAsync();
        IQueryable<AuditEntry> entries = db.AuditLog;
        if (!string.IsNullOrWhiteSpace(user)) entries = entries.Where(e => e.UserName.Contains(user.Trim()));
        if (projectId is { } id) entries = entries.Where(e => e.ProjectId == id);
        if (!string.IsNullOrWhiteSpace(action)) entries = entries.Where(e => e.Action == action);
        var rows = await entries.OrderByDescending(e => e.Id).Take(take).ToListAsync();
        return rows.Select(e => new AuditRow(e.At, e.UserName, e.Action, e.ProjectId, e.Detail)).ToList();
    }
}
