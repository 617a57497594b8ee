"""Identity tasks: the face comparison and the video liveness check, by verification id."""
from celery import shared_task

from app.services import audit, identity, unit


@shared_task(name="identity.run_photo_verification", ignore_result=True)
def run_photo_verification(verification_id):
    with audit.acting_as("celery:identity"), unit.work():
        return identity.run_photo_verification(verification_id)


@shared_task(name="identity.run_video_verification", ignore_result=True)
def run_video_verification(verification_id):
    with audit.acting_as("celery:identity"), unit.work():
        return identity.run_video_verification(verification_id)
