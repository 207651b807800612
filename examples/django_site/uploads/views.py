"""The demo's pages: each exercises one part of the WSGI contract a real project leans on."""

import os

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from .forms import DocumentForm
from .models import Document


@login_required
def document_list(request):
    return render(request, "uploads/document_list.html", {"documents": Document.objects.all()})


@login_required
def document_upload(request):
    """A multipart form with CSRF protection; the file lands in MEDIA_ROOT/documents/."""
    if request.method == "POST":
        form = DocumentForm(request.POST, request.FILES)
        if form.is_valid():
            form.save()
            return redirect("document-list")
    else:
        form = DocumentForm()
    return render(request, "uploads/document_form.html", {"form": form})


@login_required
def document_download(request, pk):
    """Sends the stored file as an attachment: Django hands the open file to the server's
    wsgi.file_wrapper, which sends it with sendfile(2)."""
    document = get_object_or_404(Document, pk=pk)
    return FileResponse(
        open(document.file.path, "rb"),
        as_attachment=True,
        filename=os.path.basename(document.file.name),
    )


STREAM_CHUNKS = 5


def stream(request):
    """A response of unknown length, sent as it is produced (chunked over HTTP/1.1)."""

    def chunks():
        for i in range(1, STREAM_CHUNKS + 1):
            yield f"chunk {i} of {STREAM_CHUNKS}\n"

    return StreamingHttpResponse(chunks(), content_type="text/plain; charset=utf-8")


def session_counter(request):
    """Counts this session's visits: the session cookie and the database round trip."""
    visits = request.session.get("visits", 0) + 1
    request.session["visits"] = visits
    return render(request, "uploads/session.html", {"visits": visits})


def whoami(request):
    """What Django makes of the request: behind a proxy, the client's address, scheme and
    host as the proxy reported them."""
    return JsonResponse(
        {
            "remote_addr": request.META.get("REMOTE_ADDR"),
            "scheme": request.scheme,
            "is_secure": request.is_secure(),
            "host": request.get_host(),
            "absolute_uri": request.build_absolute_uri(),
            "user": request.user.get_username(),
        }
    )


def home(request):
    return redirect("document-list")
